// SQLite for Swift: SQLITE_TRANSIENT is a macro casting -1 to a destructor pointer, which
// Swift cannot spell, so the binders that need it get inline wrappers.
#ifndef LAGOON_CSQLITE_SHIM_H
#define LAGOON_CSQLITE_SHIM_H

#include <sqlite3.h>

static inline int lagoon_sqlite3_bind_text(sqlite3_stmt *statement, int index, const char *text) {
    return sqlite3_bind_text(statement, index, text, -1, SQLITE_TRANSIENT);
}

#endif
