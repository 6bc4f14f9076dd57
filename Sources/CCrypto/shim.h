// OpenSSL's libcrypto, for the SHA-256 of S3 request bodies (the x-amz-content-sha256
// header S3 requires; libcurl signs the request but does not send that header before 8.1).
#ifndef LAGOON_CCRYPTO_SHIM_H
#define LAGOON_CCRYPTO_SHIM_H

#include <openssl/sha.h>

#endif
