/*  libcrypto_compat - "libcrypto.so" for Debian's CivetWeb on OpenSSL 3

    CivetWeb loads libcrypto.so by that unversioned name, which only the
    libssl-dev package installs. This library's SONAME is libcrypto.so and
    it depends on OpenSSL 3's libcrypto, where CivetWeb finds every function
    it looks up; once the logger has loaded it, CivetWeb's dlopen finds it
    among the loaded objects, so a service needs no development package.
*/
#include <openssl/crypto.h>

//  A use of libcrypto, so that no linker drops the dependency.
unsigned long enp_libcrypto_compat_version (void);

unsigned long
enp_libcrypto_compat_version (void)
{
    return OpenSSL_version_num ();
}
