#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro Swift cannot import: SQLite copies the bytes before the call returns.
static inline int sluice_sqlite3_bind_text(sqlite3_stmt *stmt, int index, const char *text, int count) {
    return sqlite3_bind_text(stmt, index, text, count, SQLITE_TRANSIENT);
}

// SQLITE_STATIC, also a macro: SQLite keeps the pointer, so the bytes must stay valid and
// unchanged until the statement has been stepped and its bindings cleared.
static inline int sluice_sqlite3_bind_text_static(sqlite3_stmt *stmt, int index, const char *text, int count) {
    return sqlite3_bind_text(stmt, index, text, count, SQLITE_STATIC);
}

// sqlite3_config is variadic, which Swift cannot call. Turns off SQLite's memory statistics
// (sqlite3_memory_used and friends, which Sluice never reads): with them on, every SQLite
// allocation and free takes a process-wide mutex. Only takes effect before SQLite is
// initialized (the first connection opened in the process); returns SQLITE_MISUSE after.
static inline int sluice_sqlite3_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
