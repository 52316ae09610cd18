// The shims are inline functions in include/shims.h; SwiftPM needs a source file.
#include "shims.h"
