// Exposes libsodium (Debian's libsodium-dev) to Swift as the `CSodium` module.
#include <sodium.h>
