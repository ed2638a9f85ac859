package ck

// Object classes (CK_OBJECT_CLASS).
const (
	CKO_DATA              ULong = 0x0
	CKO_CERTIFICATE       ULong = 0x1
	CKO_PUBLIC_KEY        ULong = 0x2
	CKO_PRIVATE_KEY       ULong = 0x3
	CKO_SECRET_KEY        ULong = 0x4
	CKO_HW_FEATURE        ULong = 0x5
	CKO_DOMAIN_PARAMETERS ULong = 0x6
	CKO_MECHANISM         ULong = 0x7
	CKO_OTP_KEY           ULong = 0x8
	CKO_PROFILE           ULong = 0x9
	CKO_VENDOR_DEFINED    ULong = 0x80000000
)

// Profile ids (CKA_PROFILE_ID values).
const (
	CKP_INVALID_ID                ULong = 0x0
	CKP_BASELINE_PROVIDER         ULong = 0x1
	CKP_EXTENDED_PROVIDER         ULong = 0x2
	CKP_AUTHENTICATION_TOKEN      ULong = 0x3
	CKP_PUBLIC_CERTIFICATES_TOKEN ULong = 0x4
	CKP_VENDOR_DEFINED            ULong = 0x80000000
)

// Certificate types and categories.
const (
	CKC_X_509           ULong = 0x0
	CKC_X_509_ATTR_CERT ULong = 0x1
	CKC_WTLS            ULong = 0x2
	CKC_VENDOR_DEFINED  ULong = 0x80000000

	CK_CERTIFICATE_CATEGORY_UNSPECIFIED  ULong = 0
	CK_CERTIFICATE_CATEGORY_TOKEN_USER   ULong = 1
	CK_CERTIFICATE_CATEGORY_AUTHORITY    ULong = 2
	CK_CERTIFICATE_CATEGORY_OTHER_ENTITY ULong = 3
	CK_SECURITY_DOMAIN_UNSPECIFIED       ULong = 0
	CK_SECURITY_DOMAIN_MANUFACTURER      ULong = 1
	CK_SECURITY_DOMAIN_OPERATOR          ULong = 2
	CK_SECURITY_DOMAIN_THIRD_PARTY       ULong = 3
	CKF_ARRAY_ATTRIBUTE                  ULong = 0x40000000
	CKA_VENDOR_DEFINED                   ULong = 0x80000000
	CKH_MONOTONIC_COUNTER                ULong = 0x1
	CKH_CLOCK                            ULong = 0x2
	CKH_USER_INTERFACE                   ULong = 0x3
	CKH_VENDOR_DEFINED                   ULong = 0x80000000
	CKN_SURRENDER                        ULong = 0
	CKN_OTP_CHANGED                      ULong = 1
	CKZ_DATA_SPECIFIED                   ULong = 0x1
	CKD_NULL                             ULong = 0x1
	CKD_SHA1_KDF                         ULong = 0x2
	CKG_MGF1_SHA1                        ULong = 0x1
	CKG_MGF1_SHA256                      ULong = 0x2
	CKG_MGF1_SHA384                      ULong = 0x3
	CKG_MGF1_SHA512                      ULong = 0x4
	CKG_MGF1_SHA224                      ULong = 0x5
	CKG_MGF1_SHA3_224                    ULong = 0x6
	CKG_MGF1_SHA3_256                    ULong = 0x7
	CKG_MGF1_SHA3_384                    ULong = 0x8
	CKG_MGF1_SHA3_512                    ULong = 0x9
	CKF_DONT_BLOCK                       ULong = 0x1
	CKF_LIBRARY_CANT_CREATE_OS_THREADS   ULong = 0x1
	CKF_OS_LOCKING_OK                    ULong = 0x2
	CKF_INTERFACE_FORK_SAFE              ULong = 0x1
	CKF_END_OF_MESSAGE                   ULong = 0x1
	CKF_RW_SESSION                       ULong = 0x2
	CKF_SERIAL_SESSION                   ULong = 0x4
	CKF_TOKEN_PRESENT                    ULong = 0x1
	CKF_REMOVABLE_DEVICE                 ULong = 0x2
	CKF_HW_SLOT                          ULong = 0x4
)

// User types.
const (
	CKU_SO               ULong = 0
	CKU_USER             ULong = 1
	CKU_CONTEXT_SPECIFIC ULong = 2
)

// Session states.
const (
	CKS_RO_PUBLIC_SESSION ULong = 0
	CKS_RO_USER_FUNCTIONS ULong = 1
	CKS_RW_PUBLIC_SESSION ULong = 2
	CKS_RW_USER_FUNCTIONS ULong = 3
	CKS_RW_SO_FUNCTIONS   ULong = 4
)

// Token flags (CK_TOKEN_INFO.flags).
const (
	CKF_RNG                           ULong = 0x00000001
	CKF_WRITE_PROTECTED               ULong = 0x00000002
	CKF_LOGIN_REQUIRED                ULong = 0x00000004
	CKF_USER_PIN_INITIALIZED          ULong = 0x00000008
	CKF_RESTORE_KEY_NOT_NEEDED        ULong = 0x00000020
	CKF_CLOCK_ON_TOKEN                ULong = 0x00000040
	CKF_PROTECTED_AUTHENTICATION_PATH ULong = 0x00000100
	CKF_DUAL_CRYPTO_OPERATIONS        ULong = 0x00000200
	CKF_TOKEN_INITIALIZED             ULong = 0x00000400
	CKF_SECONDARY_AUTHENTICATION      ULong = 0x00000800
	CKF_USER_PIN_COUNT_LOW            ULong = 0x00010000
	CKF_USER_PIN_FINAL_TRY            ULong = 0x00020000
	CKF_USER_PIN_LOCKED               ULong = 0x00040000
	CKF_USER_PIN_TO_BE_CHANGED        ULong = 0x00080000
	CKF_SO_PIN_COUNT_LOW              ULong = 0x00100000
	CKF_SO_PIN_FINAL_TRY              ULong = 0x00200000
	CKF_SO_PIN_LOCKED                 ULong = 0x00400000
	CKF_SO_PIN_TO_BE_CHANGED          ULong = 0x00800000
	CKF_ERROR_STATE                   ULong = 0x01000000
)

// Mechanism flags (CK_MECHANISM_INFO.flags).
const (
	CKF_HW                ULong = 0x00000001
	CKF_MESSAGE_ENCRYPT   ULong = 0x00000002
	CKF_MESSAGE_DECRYPT   ULong = 0x00000004
	CKF_MESSAGE_SIGN      ULong = 0x00000008
	CKF_MESSAGE_VERIFY    ULong = 0x00000010
	CKF_MULTI_MESSAGE     ULong = 0x00000020
	CKF_FIND_OBJECTS      ULong = 0x00000040
	CKF_ENCRYPT           ULong = 0x00000100
	CKF_DECRYPT           ULong = 0x00000200
	CKF_DIGEST            ULong = 0x00000400
	CKF_SIGN              ULong = 0x00000800
	CKF_SIGN_RECOVER      ULong = 0x00001000
	CKF_VERIFY            ULong = 0x00002000
	CKF_VERIFY_RECOVER    ULong = 0x00004000
	CKF_GENERATE          ULong = 0x00008000
	CKF_GENERATE_KEY_PAIR ULong = 0x00010000
	CKF_WRAP              ULong = 0x00020000
	CKF_UNWRAP            ULong = 0x00040000
	CKF_DERIVE            ULong = 0x00080000
	CKF_EC_F_P            ULong = 0x00100000
	CKF_EC_F_2M           ULong = 0x00200000
	CKF_EC_ECPARAMETERS   ULong = 0x00400000
	CKF_EC_OID            ULong = 0x00800000
	CKF_EC_NAMEDCURVE     ULong = CKF_EC_OID
	CKF_EC_UNCOMPRESS     ULong = 0x01000000
	CKF_EC_COMPRESS       ULong = 0x02000000
	CKF_EC_CURVENAME      ULong = 0x04000000
	CKF_EXTENSION         ULong = 0x80000000
)

// Key types.
const (
	CKK_RSA            ULong = 0x0
	CKK_DSA            ULong = 0x1
	CKK_DH             ULong = 0x2
	CKK_EC             ULong = 0x3
	CKK_ECDSA          ULong = CKK_EC
	CKK_X9_42_DH       ULong = 0x4
	CKK_KEA            ULong = 0x5
	CKK_GENERIC_SECRET ULong = 0x10
	CKK_RC2            ULong = 0x11
	CKK_RC4            ULong = 0x12
	CKK_DES            ULong = 0x13
	CKK_DES2           ULong = 0x14
	CKK_DES3           ULong = 0x15
	CKK_AES            ULong = 0x1F
	CKK_EC_EDWARDS     ULong = 0x40
	CKK_EC_MONTGOMERY  ULong = 0x41
	CKK_VENDOR_DEFINED ULong = 0x80000000
)

// Attribute types.
const (
	CKA_CLASS                      ULong = 0x0
	CKA_TOKEN                      ULong = 0x1
	CKA_PRIVATE                    ULong = 0x2
	CKA_LABEL                      ULong = 0x3
	CKA_UNIQUE_ID                  ULong = 0x4
	CKA_APPLICATION                ULong = 0x10
	CKA_VALUE                      ULong = 0x11
	CKA_OBJECT_ID                  ULong = 0x12
	CKA_CERTIFICATE_TYPE           ULong = 0x80
	CKA_ISSUER                     ULong = 0x81
	CKA_SERIAL_NUMBER              ULong = 0x82
	CKA_AC_ISSUER                  ULong = 0x83
	CKA_OWNER                      ULong = 0x84
	CKA_ATTR_TYPES                 ULong = 0x85
	CKA_TRUSTED                    ULong = 0x86
	CKA_CERTIFICATE_CATEGORY       ULong = 0x87
	CKA_JAVA_MIDP_SECURITY_DOMAIN  ULong = 0x88
	CKA_URL                        ULong = 0x89
	CKA_HASH_OF_SUBJECT_PUBLIC_KEY ULong = 0x8A
	CKA_HASH_OF_ISSUER_PUBLIC_KEY  ULong = 0x8B
	CKA_NAME_HASH_ALGORITHM        ULong = 0x8C
	CKA_CHECK_VALUE                ULong = 0x90
	CKA_KEY_TYPE                   ULong = 0x100
	CKA_SUBJECT                    ULong = 0x101
	CKA_ID                         ULong = 0x102
	CKA_SENSITIVE                  ULong = 0x103
	CKA_ENCRYPT                    ULong = 0x104
	CKA_DECRYPT                    ULong = 0x105
	CKA_WRAP                       ULong = 0x106
	CKA_UNWRAP                     ULong = 0x107
	CKA_SIGN                       ULong = 0x108
	CKA_SIGN_RECOVER               ULong = 0x109
	CKA_VERIFY                     ULong = 0x10A
	CKA_VERIFY_RECOVER             ULong = 0x10B
	CKA_DERIVE                     ULong = 0x10C
	CKA_START_DATE                 ULong = 0x110
	CKA_END_DATE                   ULong = 0x111
	CKA_MODULUS                    ULong = 0x120
	CKA_MODULUS_BITS               ULong = 0x121
	CKA_PUBLIC_EXPONENT            ULong = 0x122
	CKA_PRIVATE_EXPONENT           ULong = 0x123
	CKA_PRIME_1                    ULong = 0x124
	CKA_PRIME_2                    ULong = 0x125
	CKA_EXPONENT_1                 ULong = 0x126
	CKA_EXPONENT_2                 ULong = 0x127
	CKA_COEFFICIENT                ULong = 0x128
	CKA_PUBLIC_KEY_INFO            ULong = 0x129
	CKA_PRIME                      ULong = 0x130
	CKA_SUBPRIME                   ULong = 0x131
	CKA_BASE                       ULong = 0x132
	CKA_PRIME_BITS                 ULong = 0x133
	CKA_SUBPRIME_BITS              ULong = 0x134
	CKA_VALUE_BITS                 ULong = 0x160
	CKA_VALUE_LEN                  ULong = 0x161
	CKA_EXTRACTABLE                ULong = 0x162
	CKA_LOCAL                      ULong = 0x163
	CKA_NEVER_EXTRACTABLE          ULong = 0x164
	CKA_ALWAYS_SENSITIVE           ULong = 0x165
	CKA_KEY_GEN_MECHANISM          ULong = 0x166
	CKA_MODIFIABLE                 ULong = 0x170
	CKA_COPYABLE                   ULong = 0x171
	CKA_DESTROYABLE                ULong = 0x172
	CKA_EC_PARAMS                  ULong = 0x180
	CKA_EC_POINT                   ULong = 0x181
	CKA_ALWAYS_AUTHENTICATE        ULong = 0x202
	CKA_WRAP_WITH_TRUSTED          ULong = 0x210
	CKA_WRAP_TEMPLATE              ULong = CKF_ARRAY_ATTRIBUTE | 0x211
	CKA_UNWRAP_TEMPLATE            ULong = CKF_ARRAY_ATTRIBUTE | 0x212
	CKA_DERIVE_TEMPLATE            ULong = CKF_ARRAY_ATTRIBUTE | 0x213
	CKA_OTP_FORMAT                 ULong = 0x220
	CKA_OTP_LENGTH                 ULong = 0x221
	CKA_OTP_TIME_INTERVAL          ULong = 0x222
	CKA_OTP_USER_FRIENDLY_MODE     ULong = 0x223
	CKA_OTP_CHALLENGE_REQUIREMENT  ULong = 0x224
	CKA_OTP_TIME_REQUIREMENT       ULong = 0x225
	CKA_OTP_COUNTER_REQUIREMENT    ULong = 0x226
	CKA_OTP_PIN_REQUIREMENT        ULong = 0x227
	CKA_OTP_COUNTER                ULong = 0x22E
	CKA_OTP_TIME                   ULong = 0x22F
	CKA_OTP_USER_IDENTIFIER        ULong = 0x22A
	CKA_OTP_SERVICE_IDENTIFIER     ULong = 0x22B
	CKA_OTP_SERVICE_LOGO           ULong = 0x22C
	CKA_OTP_SERVICE_LOGO_TYPE      ULong = 0x22D
	CKA_HW_FEATURE_TYPE            ULong = 0x300
	CKA_RESET_ON_INIT              ULong = 0x301
	CKA_HAS_RESET                  ULong = 0x302
	CKA_PIXEL_X                    ULong = 0x400
	CKA_PIXEL_Y                    ULong = 0x401
	CKA_RESOLUTION                 ULong = 0x402
	CKA_CHAR_ROWS                  ULong = 0x403
	CKA_CHAR_COLUMNS               ULong = 0x404
	CKA_COLOR                      ULong = 0x405
	CKA_BITS_PER_PIXEL             ULong = 0x406
	CKA_CHAR_SETS                  ULong = 0x480
	CKA_ENCODING_METHODS           ULong = 0x481
	CKA_MIME_TYPES                 ULong = 0x482
	CKA_MECHANISM_TYPE             ULong = 0x500
	CKA_REQUIRED_CMS_ATTRIBUTES    ULong = 0x501
	CKA_DEFAULT_CMS_ATTRIBUTES     ULong = 0x502
	CKA_SUPPORTED_CMS_ATTRIBUTES   ULong = 0x503
	CKA_ALLOWED_MECHANISMS         ULong = CKF_ARRAY_ATTRIBUTE | 0x600
	CKA_PROFILE_ID                 ULong = 0x601
)

// Mechanism types (the ones this module uses or names, plus common neighbours).
const (
	CKM_RSA_PKCS_KEY_PAIR_GEN  ULong = 0x0
	CKM_RSA_PKCS               ULong = 0x1
	CKM_RSA_9796               ULong = 0x2
	CKM_RSA_X_509              ULong = 0x3
	CKM_MD2_RSA_PKCS           ULong = 0x4
	CKM_MD5_RSA_PKCS           ULong = 0x5
	CKM_SHA1_RSA_PKCS          ULong = 0x6
	CKM_RIPEMD128_RSA_PKCS     ULong = 0x7
	CKM_RIPEMD160_RSA_PKCS     ULong = 0x8
	CKM_RSA_PKCS_OAEP          ULong = 0x9
	CKM_RSA_X9_31_KEY_PAIR_GEN ULong = 0xA
	CKM_RSA_X9_31              ULong = 0xB
	CKM_SHA1_RSA_X9_31         ULong = 0xC
	CKM_RSA_PKCS_PSS           ULong = 0xD
	CKM_SHA1_RSA_PKCS_PSS      ULong = 0xE
	CKM_SHA256_RSA_PKCS        ULong = 0x40
	CKM_SHA384_RSA_PKCS        ULong = 0x41
	CKM_SHA512_RSA_PKCS        ULong = 0x42
	CKM_SHA256_RSA_PKCS_PSS    ULong = 0x43
	CKM_SHA384_RSA_PKCS_PSS    ULong = 0x44
	CKM_SHA512_RSA_PKCS_PSS    ULong = 0x45
	CKM_SHA224_RSA_PKCS        ULong = 0x46
	CKM_SHA224_RSA_PKCS_PSS    ULong = 0x47
	CKM_MD5                    ULong = 0x210
	CKM_SHA_1                  ULong = 0x220
	CKM_SHA256                 ULong = 0x250
	CKM_SHA224                 ULong = 0x255
	CKM_SHA384                 ULong = 0x260
	CKM_SHA512                 ULong = 0x270
	CKM_SHA_1_HMAC             ULong = 0x221
	CKM_SHA256_HMAC            ULong = 0x251
	CKM_EC_KEY_PAIR_GEN        ULong = 0x1040
	CKM_ECDSA                  ULong = 0x1041
	CKM_ECDSA_SHA1             ULong = 0x1042
	CKM_ECDSA_SHA224           ULong = 0x1043
	CKM_ECDSA_SHA256           ULong = 0x1044
	CKM_ECDSA_SHA384           ULong = 0x1045
	CKM_ECDSA_SHA512           ULong = 0x1046
	CKM_AES_KEY_GEN            ULong = 0x1080
	CKM_AES_ECB                ULong = 0x1081
	CKM_AES_CBC                ULong = 0x1082
	CKM_VENDOR_DEFINED         ULong = 0x80000000
)

// CKM_SHA1 is an alias some code uses for CKM_SHA_1.
const CKM_SHA1 = CKM_SHA_1
