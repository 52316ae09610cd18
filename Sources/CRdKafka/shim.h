// librdkafka (Debian's librdkafka-dev), behind Sluice's own Swift layer in SluiceKafka.
#include <librdkafka/rdkafka.h>
