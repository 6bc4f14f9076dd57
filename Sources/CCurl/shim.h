// libcurl for Swift. curl_easy_setopt and curl_easy_getinfo are variadic, which Swift
// cannot call, so each argument type gets a typed inline wrapper.
#ifndef LAGOON_CCURL_SHIM_H
#define LAGOON_CCURL_SHIM_H

#include <curl/curl.h>

typedef size_t (*lagoon_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode lagoon_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lagoon_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lagoon_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lagoon_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode lagoon_curl_setopt_callback(CURL *handle, CURLoption option, lagoon_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline long lagoon_curl_response_code(CURL *handle) {
    long code = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

#endif
