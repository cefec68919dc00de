// The one spawn helper the software token's pinentry client needs from C (see the header).
#define _GNU_SOURCE
#include <spawn.h>
#include "softtoken_crypto.h"

int cbst_spawn_closefrom(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}
