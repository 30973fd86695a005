#ifndef PGBAK_CURL_H
#define PGBAK_CURL_H

#include <curl/curl.h>

/// Typed forms of libcurl's variadic calls, which Swift cannot call directly. Each returns libcurl's own code.
CURLcode pgbak_curl_set_long(CURL *handle, CURLoption option, long value);
CURLcode pgbak_curl_set_string(CURL *handle, CURLoption option, const char *value);
CURLcode pgbak_curl_set_pointer(CURL *handle, CURLoption option, void *value);
CURLcode pgbak_curl_set_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode pgbak_curl_get_long(CURL *handle, CURLINFO info, long *value);

/// The data callbacks (CURLOPT_WRITEFUNCTION, CURLOPT_READFUNCTION, CURLOPT_HEADERFUNCTION), with the context
/// pointer each receives (CURLOPT_WRITEDATA, CURLOPT_READDATA, CURLOPT_HEADERDATA).
typedef size_t (*pgbak_curl_data_callback)(char *buffer, size_t size, size_t count, void *context);
CURLcode pgbak_curl_set_write(CURL *handle, pgbak_curl_data_callback callback, void *context);
CURLcode pgbak_curl_set_read(CURL *handle, pgbak_curl_data_callback callback, void *context);
CURLcode pgbak_curl_set_header(CURL *handle, pgbak_curl_data_callback callback, void *context);

/// Lets libcurl rewind an upload (CURLOPT_SEEKFUNCTION), which it needs to send a body again on a fresh connection
/// when a kept-alive one was closed under it. `context` is the read callback's.
typedef int (*pgbak_curl_seek_callback)(void *context, curl_off_t offset, int origin);
CURLcode pgbak_curl_set_seek(CURL *handle, pgbak_curl_seek_callback callback, void *context);

#endif
