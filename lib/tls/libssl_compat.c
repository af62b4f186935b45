/*  libssl_compat - "libssl.so" for Debian's CivetWeb on OpenSSL 3

    Debian 12's CivetWeb 1.15 loads OpenSSL at run time by the names
    libssl.so and libcrypto.so, and was built for the OpenSSL 1.1 API: it
    asks for SSL_get_peer_certificate, which OpenSSL 3 no longer exports
    (it is a macro for SSL_get1_peer_certificate there), and refuses TLS
    without it. This library's SONAME is libssl.so, so once the logger has
    loaded it, CivetWeb's dlopen ("libssl.so") finds it among the loaded
    objects; every other function CivetWeb looks up is found in OpenSSL 3,
    which this library depends on.
*/
#include <openssl/ssl.h>

//  OpenSSL 3's header makes the old name a macro for the new one; here it
//  must be a function of its own
#undef SSL_get_peer_certificate

//  OpenSSL 1.1's name: the peer's certificate, a new reference.
X509 *SSL_get_peer_certificate (const SSL *ssl);

X509 *
SSL_get_peer_certificate (const SSL *ssl)
{
    return SSL_get1_peer_certificate (ssl);
}
