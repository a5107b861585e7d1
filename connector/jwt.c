/*
 * The JWT bearer assertion Salesforce's OAuth jwt-bearer flow takes:
 * RS256 (RSASSA-PKCS1-v1_5 with SHA-256) through OpenSSL 3's EVP API, over
 * base64url(header) "." base64url(claims). Key bytes are wiped after use and
 * never reach an error message.
 */
#include "jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "secure_file.h"

#define JWT_HEADER "{\"alg\":\"RS256\"}"
#define JWT_MAX_KEY_FILE (1024 * 1024)  /* a 16384-bit PEM key is ~13 KB */

char *jwt_base64url(const unsigned char *data, size_t len)
{
        static const char alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t i, o = 0;
        char *out;

        if (len > ((size_t)-1 - 4) / 4 * 3)
                return NULL;
        out = malloc(len / 3 * 4 + 4 + 1);
        if (!out)
                return NULL;
        for (i = 0; i + 2 < len; i += 3) {
                unsigned long v = (unsigned long)data[i] << 16 | (unsigned long)data[i + 1] << 8 |
                                  data[i + 2];
                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
                out[o++] = alphabet[(v >> 6) & 63];
                out[o++] = alphabet[v & 63];
        }
        if (len - i == 1) {
                unsigned long v = (unsigned long)data[i] << 16;
                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
        } else if (len - i == 2) {
                unsigned long v = (unsigned long)data[i] << 16 | (unsigned long)data[i + 1] << 8;
                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
                out[o++] = alphabet[(v >> 6) & 63];
        }
        out[o] = '\0';
        return out;
}

/* Never prompt on a terminal for an encrypted key: a daemon has no one to ask. */
static int jwt_no_passphrase(char *buf, int size, int rwflag, void *u)
{
        (void)buf;
        (void)size;
        (void)rwflag;
        (void)u;
        return -1;
}

/* OpenSSL's reason for the last failure: a library constant, never key bytes. */
static const char *jwt_ssl_reason(void)
{
        unsigned long e = ERR_peek_last_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;

        return reason ? reason : "unknown error";
}

/* Read the whole file into a bounded, wiped-on-free buffer. */
static unsigned char *jwt_read_file(const char *path, size_t *len, char *errstr,
                                    size_t errstr_size)
{
        unsigned char *data = NULL;
        struct stat st;
        size_t n = 0;
        FILE *fp;
        int fd;

        /* Opened without blocking and checked before any read: fopen() on a
         * FIFO would wait for a writer forever, in `check` as in `run`. */
        fd = secure_file_open(path, NULL, &st, errstr, errstr_size);
        if (fd == -1) {
                if (errno == EINVAL)
                        snprintf(errstr, errstr_size, "%s: private key file is not a regular file (%s)",
                                 path, secure_file_kind(st.st_mode));
                else
                        snprintf(errstr, errstr_size, "%s: cannot open private key file: %s", path,
                                 strerror(errno));
                return NULL;
        }
        if (!(fp = fdopen(fd, "rb"))) {
                snprintf(errstr, errstr_size, "%s: cannot open private key file: %s", path,
                         strerror(errno));
                close(fd);
                return NULL;
        }
        if (st.st_size > JWT_MAX_KEY_FILE) {
                snprintf(errstr, errstr_size,
                         "%s: private key file is larger than %d bytes: not a PEM key", path,
                         JWT_MAX_KEY_FILE);
                goto fail;
        }
        data = malloc((size_t)st.st_size + 1);
        if (!data) {
                snprintf(errstr, errstr_size, "%s: out of memory reading the private key", path);
                goto fail;
        }
        n = fread(data, 1, (size_t)st.st_size, fp);
        if (ferror(fp)) {
                snprintf(errstr, errstr_size, "%s: cannot read private key file: %s", path,
                         strerror(errno));
                OPENSSL_cleanse(data, (size_t)st.st_size + 1);
                free(data);
                data = NULL;
                goto fail;
        }
        data[n] = '\0';
        *len = n;
fail:
        fclose(fp);
        return data;
}

static EVP_PKEY *jwt_load_key(const char *path, char *errstr, size_t errstr_size)
{
        unsigned char *pem;
        EVP_PKEY *pkey = NULL;
        size_t len = 0;
        BIO *bio;

        pem = jwt_read_file(path, &len, errstr, errstr_size);
        if (!pem)
                return NULL;
        ERR_clear_error();
        bio = BIO_new_mem_buf(pem, (int)len);
        if (bio)
                pkey = PEM_read_bio_PrivateKey(bio, NULL, jwt_no_passphrase, NULL);
        if (!pkey) {
                /* Name the usual mistakes; look only at PEM labels, never
                 * quote the file. */
                const char *text = (const char *)pem;
                if (!strstr(text, "-----BEGIN "))
                        snprintf(errstr, errstr_size,
                                 "%s: no PEM private key in the file (no PEM header line)", path);
                else if (strstr(text, "ENCRYPTED"))
                        snprintf(errstr, errstr_size,
                                 "%s: the private key is encrypted; an unencrypted RSA key is "
                                 "needed (protect it with file permissions)", path);
                else if (!strstr(text, "PRIVATE KEY-----"))
                        snprintf(errstr, errstr_size,
                                 "%s: holds no private key (a public key or certificate?)", path);
                else
                        snprintf(errstr, errstr_size,
                                 "%s: not a readable PEM private key (%s)", path,
                                 bio ? jwt_ssl_reason() : "out of memory");
        } else if (!EVP_PKEY_is_a(pkey, "RSA")) {
                snprintf(errstr, errstr_size,
                         "%s: the private key is not an RSA key (RS256 needs RSA)", path);
                EVP_PKEY_free(pkey);
                pkey = NULL;
        }
        BIO_free(bio);
        OPENSSL_cleanse(pem, len);
        free(pem);
        ERR_clear_error();
        return pkey;
}

int jwt_check_key_file(const char *key_file, char *errstr, size_t errstr_size)
{
        EVP_PKEY *pkey = jwt_load_key(key_file, errstr, errstr_size);

        if (!pkey)
                return -1;
        EVP_PKEY_free(pkey);
        return 0;
}

/* {"iss":…,"sub":…,"aud":…,"exp":N}, strings escaped by cJSON. */
static char *jwt_claims(const char *iss, const char *sub, const char *aud, long long exp)
{
        cJSON *claims = cJSON_CreateObject();
        char *text = NULL;

        if (claims && cJSON_AddStringToObject(claims, "iss", iss) &&
            cJSON_AddStringToObject(claims, "sub", sub) &&
            cJSON_AddStringToObject(claims, "aud", aud) &&
            cJSON_AddNumberToObject(claims, "exp", (double)exp))
                text = cJSON_PrintUnformatted(claims);
        cJSON_Delete(claims);
        return text;
}

char *jwt_build_assertion(const char *key_file, const char *iss, const char *sub,
                          const char *aud, long long exp, char *errstr, size_t errstr_size)
{
        char *claims = NULL, *header64 = NULL, *claims64 = NULL, *sig64 = NULL, *out = NULL;
        unsigned char *sig = NULL;
        EVP_MD_CTX *mdctx = NULL;
        EVP_PKEY *pkey = NULL;
        size_t siglen, tbslen;
        char *tbs = NULL;
        int keysize;

        if (!key_file || !iss || !sub || !aud) {
                snprintf(errstr, errstr_size, "JWT assertion needs %s",
                         !key_file ? "a private key file" : !iss ? "iss (client_id)"
                         : !sub ? "sub (username)" : "aud (login URL)");
                return NULL;
        }
        if (exp < 0 || exp > 253402300799LL) {
                snprintf(errstr, errstr_size, "JWT exp %lld is not a valid epoch second", exp);
                return NULL;
        }
        pkey = jwt_load_key(key_file, errstr, errstr_size);
        if (!pkey)
                return NULL;

        claims = jwt_claims(iss, sub, aud, exp);
        header64 = jwt_base64url((const unsigned char *)JWT_HEADER, strlen(JWT_HEADER));
        claims64 = claims ? jwt_base64url((const unsigned char *)claims, strlen(claims)) : NULL;
        if (!header64 || !claims64)
                goto oom;
        tbslen = strlen(header64) + 1 + strlen(claims64);
        tbs = malloc(tbslen + 1);
        if (!tbs)
                goto oom;
        snprintf(tbs, tbslen + 1, "%s.%s", header64, claims64);

        keysize = EVP_PKEY_get_size(pkey);
        sig = keysize > 0 ? malloc((size_t)keysize) : NULL;
        mdctx = EVP_MD_CTX_new();
        if (!sig || !mdctx)
                goto oom;
        siglen = (size_t)keysize;
        ERR_clear_error();
        if (EVP_DigestSignInit(mdctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
            EVP_DigestSign(mdctx, sig, &siglen, (const unsigned char *)tbs, tbslen) != 1) {
                snprintf(errstr, errstr_size, "%s: RS256 signing failed: %s", key_file,
                         jwt_ssl_reason());
                ERR_clear_error();
                goto done;
        }
        sig64 = jwt_base64url(sig, siglen);
        if (!sig64)
                goto oom;
        out = malloc(tbslen + 1 + strlen(sig64) + 1);
        if (!out)
                goto oom;
        snprintf(out, tbslen + 1 + strlen(sig64) + 1, "%s.%s", tbs, sig64);
        goto done;
oom:
        snprintf(errstr, errstr_size, "%s: out of memory building the JWT assertion", key_file);
done:
        EVP_MD_CTX_free(mdctx);
        EVP_PKEY_free(pkey);
        free(sig);
        free(sig64);
        free(tbs);
        free(claims64);
        free(header64);
        cJSON_free(claims);
        return out;
}
