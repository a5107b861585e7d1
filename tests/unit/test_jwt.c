/*
 * jwt.c: the RS256 assertion verifies with the public half of a key pair
 * made here with OpenSSL EVP; header and claims are exactly what
 * Salesforce expects; bad key files give errors that name the file and
 * never carry key material.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "jwt.h"

static char dir[256];
static char key_path[300], ec_path[300], enc_path[300], pub_path[300], junk_path[300],
            trunc_path[300];
static EVP_PKEY *key, *other_key;

static void write_file(const char *path, const char *data, size_t len)
{
        FILE *fp = fopen(path, "wb");

        assert_non_null(fp);
        assert_int_equal(fwrite(data, 1, len, fp), len);
        assert_int_equal(fclose(fp), 0);
}

static char *read_file(const char *path)
{
        FILE *fp = fopen(path, "rb");
        char *data;
        long n;

        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        data = malloc((size_t)n + 1);
        assert_non_null(data);
        assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
        data[n] = '\0';
        fclose(fp);
        return data;
}

static int setup(void **state)
{
        const char *tmp = getenv("TMPDIR");
        EVP_PKEY *ec;
        FILE *fp;
        char *pem;

        (void)state;
        snprintf(dir, sizeof(dir), "%s/test_jwt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir))
                return -1;
        snprintf(key_path, sizeof(key_path), "%s/jwt.key", dir);
        snprintf(ec_path, sizeof(ec_path), "%s/ec.key", dir);
        snprintf(enc_path, sizeof(enc_path), "%s/enc.key", dir);
        snprintf(pub_path, sizeof(pub_path), "%s/jwt.pub", dir);
        snprintf(junk_path, sizeof(junk_path), "%s/junk.key", dir);
        snprintf(trunc_path, sizeof(trunc_path), "%s/trunc.key", dir);

        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        other_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        if (!key || !other_key || !ec)
                return -1;

        fp = fopen(key_path, "wb");
        if (!fp || !PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) || fclose(fp))
                return -1;
        fp = fopen(ec_path, "wb");
        if (!fp || !PEM_write_PrivateKey(fp, ec, NULL, NULL, 0, NULL, NULL) || fclose(fp))
                return -1;
        fp = fopen(enc_path, "wb");
        if (!fp || !PEM_write_PrivateKey(fp, key, EVP_aes_256_cbc(), (unsigned char *)"passphrase",
                                         10, NULL, NULL) || fclose(fp))
                return -1;
        fp = fopen(pub_path, "wb");
        if (!fp || !PEM_write_PUBKEY(fp, key) || fclose(fp))
                return -1;
        EVP_PKEY_free(ec);

        write_file(junk_path, "this is no key: SECRET-MATERIAL-1234\n", 37);
        pem = read_file(key_path);
        write_file(trunc_path, pem, strlen(pem) / 2);
        free(pem);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unlink(key_path);
        unlink(ec_path);
        unlink(enc_path);
        unlink(pub_path);
        unlink(junk_path);
        unlink(trunc_path);
        rmdir(dir);
        EVP_PKEY_free(key);
        EVP_PKEY_free(other_key);
        return 0;
}

/* base64url decoding, test side: returns the byte count or -1. */
static long b64url_decode(const char *s, size_t n, unsigned char *out, size_t out_size)
{
        unsigned long acc = 0;
        size_t i, o = 0;
        int bits = 0;

        for (i = 0; i < n; i++) {
                const char c = s[i];
                int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
                        : c >= '0' && c <= '9' ? c - '0' + 52 : c == '-' ? 62 : c == '_' ? 63 : -1;
                if (v < 0)
                        return -1;
                acc = (acc << 6) | (unsigned long)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (o >= out_size)
                                return -1;
                        out[o++] = (unsigned char)(acc >> bits);
                        acc &= (1UL << bits) - 1;
                }
        }
        return (long)o;
}

static EVP_PKEY *public_half(EVP_PKEY *pkey)
{
        BIO *bio = BIO_new(BIO_s_mem());
        EVP_PKEY *pub;

        assert_non_null(bio);
        assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
        pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
        assert_non_null(pub);
        return pub;
}

static int verify(EVP_PKEY *pub, const char *signed_part, size_t signed_len,
                  const unsigned char *sig, size_t sig_len)
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok;

        assert_non_null(ctx);
        ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)signed_part, signed_len) == 1;
        EVP_MD_CTX_free(ctx);
        return ok;
}

static void test_base64url_vectors(void **state)
{
        static const struct {
                const char *in;
                const char *out;
        } v[] = {
                { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
                { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
                { "\xfb\xff", "-_8" }, { "\xff\xff\xfe", "___-" },
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                char *out = jwt_base64url((const unsigned char *)v[i].in, strlen(v[i].in));
                assert_non_null(out);
                assert_string_equal(out, v[i].out);
                free(out);
        }
}

static void test_assertion_verifies(void **state)
{
        char err[256] = "";
        unsigned char header[64], claims_raw[512], sig[1024];
        const char *dot1, *dot2;
        char *jwt, *claims_text;
        long hlen, clen, slen;
        cJSON *claims, *exp;
        EVP_PKEY *pub, *other_pub;

        (void)state;
        jwt = jwt_build_assertion(key_path, "3MVG99OxTyEMCQ3gNp2PjkqeZKxnmAiG1xV4oHh9AKL_rSK",
                                  "my@email.com", "https://login.salesforce.com", 1333685628LL,
                                  err, sizeof(err));
        if (!jwt)
                fail_msg("jwt_build_assertion: %s", err);
        assert_null(strpbrk(jwt, "=+/ \n"));
        dot1 = strchr(jwt, '.');
        assert_non_null(dot1);
        dot2 = strchr(dot1 + 1, '.');
        assert_non_null(dot2);
        assert_null(strchr(dot2 + 1, '.'));

        hlen = b64url_decode(jwt, (size_t)(dot1 - jwt), header, sizeof(header) - 1);
        assert_true(hlen > 0);
        header[hlen] = '\0';
        assert_string_equal((char *)header, "{\"alg\":\"RS256\"}");

        clen = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), claims_raw, sizeof(claims_raw) - 1);
        assert_true(clen > 0);
        claims_raw[clen] = '\0';
        claims_text = (char *)claims_raw;
        claims = cJSON_Parse(claims_text);
        assert_non_null(claims);
        assert_string_equal(cJSON_GetObjectItem(claims, "iss")->valuestring,
                            "3MVG99OxTyEMCQ3gNp2PjkqeZKxnmAiG1xV4oHh9AKL_rSK");
        assert_string_equal(cJSON_GetObjectItem(claims, "sub")->valuestring, "my@email.com");
        assert_string_equal(cJSON_GetObjectItem(claims, "aud")->valuestring, "https://login.salesforce.com");
        exp = cJSON_GetObjectItem(claims, "exp");
        assert_true(cJSON_IsNumber(exp));  /* a number, not the docs' string */
        assert_true(exp->valuedouble == 1333685628.0);
        assert_int_equal(cJSON_GetArraySize(claims), 4);
        cJSON_Delete(claims);

        slen = b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof(sig));
        assert_int_equal(slen, 256);  /* RSA 2048 */

        pub = public_half(key);
        other_pub = public_half(other_key);
        assert_true(verify(pub, jwt, (size_t)(dot2 - jwt), sig, (size_t)slen));
        assert_false(verify(other_pub, jwt, (size_t)(dot2 - jwt), sig, (size_t)slen));
        /* One changed byte in the claims breaks the signature. */
        jwt[dot1 - jwt + 3] ^= 1;
        assert_false(verify(pub, jwt, (size_t)(dot2 - jwt), sig, (size_t)slen));
        EVP_PKEY_free(pub);
        EVP_PKEY_free(other_pub);
        free(jwt);
}

/* Claims are JSON-escaped and large exp values stay exact numbers. */
static void test_claims_escaping_and_exp(void **state)
{
        char err[256] = "";
        unsigned char raw[512];
        const char *dot1, *dot2;
        cJSON *claims;
        char *jwt;
        long n;

        (void)state;
        jwt = jwt_build_assertion(key_path, "id\"with\\quote", "user\n@x", "https://test.salesforce.com",
                                  4102444800LL, err, sizeof(err));
        assert_non_null(jwt);
        dot1 = strchr(jwt, '.');
        dot2 = strchr(dot1 + 1, '.');
        n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), raw, sizeof(raw) - 1);
        assert_true(n > 0);
        raw[n] = '\0';
        assert_non_null(strstr((char *)raw, "\"exp\":4102444800"));
        claims = cJSON_Parse((char *)raw);
        assert_non_null(claims);
        assert_string_equal(cJSON_GetObjectItem(claims, "iss")->valuestring, "id\"with\\quote");
        assert_string_equal(cJSON_GetObjectItem(claims, "sub")->valuestring, "user\n@x");
        cJSON_Delete(claims);
        free(jwt);
}

/* The error names the file and what is wrong, and never holds key bytes. */
static void expect_key_error(const char *path, const char *what)
{
        char err[512] = "";
        char *jwt, *pem = NULL;

        jwt = jwt_build_assertion(path, "iss", "sub", "aud", 1700000000LL, err, sizeof(err));
        assert_null(jwt);
        if (!strstr(err, path) || !strstr(err, what))
                fail_msg("error \"%s\" should name %s and say \"%s\"", err, path, what);
        assert_null(strstr(err, "BEGIN"));
        assert_null(strstr(err, "SECRET"));
        if (access(path, R_OK) == 0 && strcmp(path, dir) != 0)
                pem = read_file(path);
        if (pem) {
                /* No 16-byte run of any line of the file shows up in the error. */
                char *line, *save = NULL;
                for (line = strtok_r(pem, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        char probe[17];
                        if (strlen(line) < 16)
                                continue;
                        memcpy(probe, line, 16);
                        probe[16] = '\0';
                        if (strstr(err, probe))
                                fail_msg("error \"%s\" leaks key file content", err);
                }
                free(pem);
        }
}

static void test_bad_key_files(void **state)
{
        char missing[320];

        (void)state;
        snprintf(missing, sizeof(missing), "%s/no-such.key", dir);
        expect_key_error(missing, "cannot open private key file: No such file or directory");
        expect_key_error(junk_path, "no PEM private key in the file");
        expect_key_error(trunc_path, "not a readable PEM private key");
        expect_key_error(enc_path, "the private key is encrypted");  /* and no prompt */
        expect_key_error(pub_path, "holds no private key");
        expect_key_error(ec_path, "is not an RSA key");
        expect_key_error(dir, "not a regular file");
}

static void test_bad_arguments(void **state)
{
        char err[256] = "";

        (void)state;
        assert_null(jwt_build_assertion(key_path, NULL, "sub", "aud", 1, err, sizeof(err)));
        assert_non_null(strstr(err, "iss"));
        assert_null(jwt_build_assertion(NULL, "iss", "sub", "aud", 1, err, sizeof(err)));
        assert_non_null(strstr(err, "private key file"));
        assert_null(jwt_build_assertion(key_path, "iss", "sub", "aud", -1, err, sizeof(err)));
        assert_non_null(strstr(err, "exp"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_base64url_vectors),
                cmocka_unit_test(test_assertion_verifies),
                cmocka_unit_test(test_claims_escaping_and_exp),
                cmocka_unit_test(test_bad_key_files),
                cmocka_unit_test(test_bad_arguments),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
