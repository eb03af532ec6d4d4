/*
 * trellis._screen: the ingest screen's JSON pass, in C (see services/screening.py),
 * the line split of the reader (split_lines, see services/line_chunks.py) and the
 * key hash of the DuckDB store's key filter (hash_strings, see storage/key_filter.py).
 *
 * One pass over each line checks that it is strict JSON (RFC 8259) shaped as
 * a schema says, and keeps the spans of the string fields the screen reads.
 * The schema is compiled from the msgspec structs of the Python screen
 * (screening._native_schema), so both screens follow the same rule tables.
 *
 * The pass is one-sided like the Python screen: a line it clears is one the
 * validation SQL accepts. Wherever exactness would cost code, it refuses
 * and the line goes to the SQL: an escape in a key, an enum or a read
 * string; a typed number of 64 characters or more; nesting past MAX_DEPTH.
 * It also refuses what the Python screen finds with regular expressions on
 * the raw text: an exponent of five or more digits, and the \u0000 escape;
 * and any lone UTF-16 surrogate escape. The text must be valid UTF-8 (the
 * caller skips lines that are not). The lines are read without the GIL.
 *
 * The same pass fingerprints the content of each cleared line (see "Content
 * fingerprints" below): two lines holding the same JSON value, however
 * spelled, get the same 128-bit fingerprint, as ingest.same_content judges
 * sameness; different values get different ones (but for a 2^-128 chance).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__) || defined(__APPLE__)
#include <locale.h>
#ifdef __APPLE__
#include <xlocale.h>
#endif
#define HAVE_STRTOD_L 1
#endif

#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define HAVE_SSE2 1
#endif

/* JSON types a schema node allows (bits). */
enum { T_NULL = 1, T_BOOL = 2, T_NUM = 4, T_STR = 8, T_ARR = 16, T_OBJ = 32 };

/* Deeper nesting is left to the SQL. */
#define MAX_DEPTH 256
/* Read fields a schema may have, and fields a struct may have. */
#define MAX_READ 32
#define MAX_FIELDS 64
/* Longest typed number converted (characters). */
#define MAX_NUMBER 63

typedef struct Node Node;

typedef struct {
    char *name;
    Py_ssize_t len;
    Node *node;
} Field;

struct Node {
    int allow;              /* T_* bits */
    int str_nonempty;       /* a string must not be empty */
    Py_ssize_t n_enum;      /* a string must be one of these (no escapes) */
    char **enums;
    Py_ssize_t *enum_lens;
    int num_typed;          /* a number is converted to a double and checked */
    int has_min, has_max;
    double min, max;
    Py_ssize_t n_one_of;    /* ... and must equal one of these */
    double *one_of;
    Node *items;            /* array items (NULL: any value) */
    Py_ssize_t arr_min;     /* fewest items */
    Py_ssize_t n_fields;    /* an object with fields: a struct (else any object) */
    Field *fields;
    uint64_t required;      /* bits of the fields that must be present */
    int read;               /* index of a read field, or -1 */
    int read_string;        /* the read field's value is kept (a string or null) */
};

typedef struct {
    Node *root;
    int n_read;
    int read_strings[MAX_READ]; /* which read fields keep a string */
} Schema;

/* Object keys whose fingerprints a line holds at once (the open objects' keys). */
#define MAX_KEYS 1024

typedef struct Fp {
    uint64_t a, b;
} Fp;

typedef struct {
    unsigned char *bytes;    /* unescaped strings and canonical numbers */
    size_t cap;
    Fp keys[MAX_KEYS];       /* fingerprints of the open objects' keys */
} Scratch;

typedef struct {
    const unsigned char *p, *end, *line;
    int depth;
    uint32_t met;            /* read fields met in this record */
    int64_t *spans;          /* per read field: start, end in the line; -1 for none */
    int fp;                  /* the line's fingerprint is still to be had */
    int n_keys;              /* keys in scratch->keys */
    Scratch *scratch;
} Parser;

/* ------------------------------------------------------------------------- */
/* The schema: compiled from nested tuples (see screening._native_schema).    */

static const char *SCHEMA_CAPSULE = "trellis._screen.Schema";

static void free_node(Node *node) {
    if (node == NULL) {
        return;
    }
    for (Py_ssize_t i = 0; i < node->n_enum; i++) {
        PyMem_Free(node->enums[i]);
    }
    PyMem_Free(node->enums);
    PyMem_Free(node->enum_lens);
    PyMem_Free(node->one_of);
    free_node(node->items);
    for (Py_ssize_t i = 0; i < node->n_fields; i++) {
        PyMem_Free(node->fields[i].name);
        free_node(node->fields[i].node);
    }
    PyMem_Free(node->fields);
    PyMem_Free(node);
}

static char *copy_bytes(PyObject *value, Py_ssize_t *len) {
    char *data;
    if (PyBytes_AsStringAndSize(value, &data, len) < 0) {
        return NULL;
    }
    char *copy = PyMem_Malloc(*len + 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, data, *len);
    copy[*len] = '\0';
    return copy;
}

static int optional_double(PyObject *value, int *has, double *out) {
    if (value == Py_None) {
        *has = 0;
        return 0;
    }
    *out = PyFloat_AsDouble(value);
    if (*out == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    *has = 1;
    return 0;
}

/*
 * node = (allow, str_nonempty, enums, num_typed, min, max, one_of, items,
 *         arr_min, fields, read, read_string)
 * enums: tuple of bytes; one_of: tuple of floats; items: node or None;
 * fields: tuple of (name bytes, node, required bool), or None.
 */
static Node *compile_node(PyObject *spec, Schema *schema, int depth) {
    if (depth > 32) {
        PyErr_SetString(PyExc_ValueError, "schema nested too deep");
        return NULL;
    }
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 12) {
        PyErr_SetString(PyExc_ValueError, "a schema node is a tuple of 12 items");
        return NULL;
    }
    Node *node = PyMem_Calloc(1, sizeof(Node));
    if (node == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    node->read = -1;
    PyObject *enums = PyTuple_GET_ITEM(spec, 2), *one_of = PyTuple_GET_ITEM(spec, 6);
    PyObject *items = PyTuple_GET_ITEM(spec, 7), *fields = PyTuple_GET_ITEM(spec, 9);
    node->allow = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    node->str_nonempty = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 1));
    node->num_typed = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 3));
    node->arr_min = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 8));
    node->read = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 10));
    node->read_string = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 11));
    if (PyErr_Occurred()) {
        goto fail;
    }
    if (optional_double(PyTuple_GET_ITEM(spec, 4), &node->has_min, &node->min) < 0 ||
        optional_double(PyTuple_GET_ITEM(spec, 5), &node->has_max, &node->max) < 0) {
        goto fail;
    }
    if (!PyTuple_Check(enums) || !PyTuple_Check(one_of)) {
        PyErr_SetString(PyExc_ValueError, "enums and one_of are tuples");
        goto fail;
    }
    node->n_enum = PyTuple_GET_SIZE(enums);
    if (node->n_enum) {
        node->enums = PyMem_Calloc(node->n_enum, sizeof(char *));
        node->enum_lens = PyMem_Calloc(node->n_enum, sizeof(Py_ssize_t));
        if (node->enums == NULL || node->enum_lens == NULL) {
            node->n_enum = 0;
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < node->n_enum; i++) {
            node->enums[i] = copy_bytes(PyTuple_GET_ITEM(enums, i), &node->enum_lens[i]);
            if (node->enums[i] == NULL) {
                goto fail;
            }
        }
    }
    Py_ssize_t n_one_of = PyTuple_GET_SIZE(one_of);
    if (n_one_of) {
        node->one_of = PyMem_Calloc(n_one_of, sizeof(double));
        if (node->one_of == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        node->n_one_of = n_one_of;
        for (Py_ssize_t i = 0; i < n_one_of; i++) {
            node->one_of[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(one_of, i));
            if (node->one_of[i] == -1.0 && PyErr_Occurred()) {
                goto fail;
            }
        }
    }
    if (items != Py_None) {
        node->items = compile_node(items, schema, depth + 1);
        if (node->items == NULL) {
            goto fail;
        }
    }
    if (fields != Py_None) {
        if (!PyTuple_Check(fields) || PyTuple_GET_SIZE(fields) > MAX_FIELDS) {
            PyErr_SetString(PyExc_ValueError, "fields: a tuple of at most 64");
            goto fail;
        }
        Py_ssize_t count = PyTuple_GET_SIZE(fields);
        node->fields = PyMem_Calloc(count ? count : 1, sizeof(Field));
        if (node->fields == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *field = PyTuple_GET_ITEM(fields, i);
            if (!PyTuple_Check(field) || PyTuple_GET_SIZE(field) != 3) {
                PyErr_SetString(PyExc_ValueError, "a field is (name, node, required)");
                goto fail;
            }
            node->n_fields = i + 1;
            node->fields[i].name = copy_bytes(PyTuple_GET_ITEM(field, 0), &node->fields[i].len);
            if (node->fields[i].name == NULL) {
                goto fail;
            }
            node->fields[i].node = compile_node(PyTuple_GET_ITEM(field, 1), schema, depth + 1);
            if (node->fields[i].node == NULL) {
                goto fail;
            }
            int required = PyObject_IsTrue(PyTuple_GET_ITEM(field, 2));
            if (required < 0) {
                goto fail;
            }
            if (required) {
                node->required |= (uint64_t)1 << i;
            }
        }
    }
    if (node->read >= 0) {
        if (node->read >= MAX_READ) {
            PyErr_SetString(PyExc_ValueError, "too many read fields");
            goto fail;
        }
        if (node->read >= schema->n_read) {
            schema->n_read = node->read + 1;
        }
        schema->read_strings[node->read] = node->read_string;
    }
    return node;
fail:
    free_node(node);
    return NULL;
}

static void free_schema(PyObject *capsule) {
    Schema *schema = PyCapsule_GetPointer(capsule, SCHEMA_CAPSULE);
    if (schema != NULL) {
        free_node(schema->root);
        PyMem_Free(schema);
    }
}

static PyObject *compile_schema(PyObject *module, PyObject *spec) {
    (void)module;
    Schema *schema = PyMem_Calloc(1, sizeof(Schema));
    if (schema == NULL) {
        return PyErr_NoMemory();
    }
    schema->root = compile_node(spec, schema, 0);
    if (schema->root == NULL) {
        PyMem_Free(schema);
        return NULL;
    }
    PyObject *capsule = PyCapsule_New(schema, SCHEMA_CAPSULE, free_schema);
    if (capsule == NULL) {
        free_node(schema->root);
        PyMem_Free(schema);
    }
    return capsule;
}

/* ------------------------------------------------------------------------- */
/* Content fingerprints.
 *
 * A value's fingerprint is 128 bits (two 64-bit halves) made of:
 * - a string: its text unescaped (UTF-8);
 * - a number: its exact value, spelled canonically (sign, significant digits,
 *   decimal exponent: 1, 1.0, 10e-1 and 0.1e1 are all "1e0"; every zero is
 *   "0");
 * - true, false, null: constants;
 * - an array: its items' fingerprints folded in order, then their count;
 * - an object: the sum of its members' fingerprints (each mixes the key's and
 *   the value's), then their count: key order does not matter.
 * Each kind has its own tag, so a string never meets a number. A string or
 * number of up to 16 bytes is kept as it is (see fp_bytes), longer ones are
 * hashed: every value is mixed where it is used, in an array or an object.
 *
 * Where the Python comparison would read the text differently, the line gets
 * no fingerprint (and ingest compares it by content): an object naming a key
 * twice (Python keeps the last value), or more than MAX_KEYS keys open at once.
 *
 * The hash multiplies 64-bit words into 128 bits and folds the halves, two
 * lanes with their own constants; bytes are read little-endian on every
 * machine, so a fingerprint is the same wherever it is computed (they are
 * stored). It is not meant to resist crafted collisions. */

#define FP_K0 0x9E3779B97F4A7C15ull
#define FP_K1 0xC2B2AE3D27D4EB4Full
#define FP_K2 0x165667B19E3779F9ull
#define FP_K3 0xD6E8FEB86659FD93ull

enum { TAG_STR = 1, TAG_NUM, TAG_TRUE, TAG_FALSE, TAG_NULL, TAG_ARR, TAG_OBJ };

static inline uint64_t fp_mum(uint64_t x, uint64_t y) {
#ifdef __SIZEOF_INT128__
    const __uint128_t r = (__uint128_t)x * y;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    const uint64_t x0 = x & 0xFFFFFFFFu, x1 = x >> 32, y0 = y & 0xFFFFFFFFu, y1 = y >> 32;
    const uint64_t p00 = x0 * y0, p01 = x0 * y1, p10 = x1 * y0, p11 = x1 * y1;
    const uint64_t middle = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
    const uint64_t low = (middle << 32) | (p00 & 0xFFFFFFFFu);
    const uint64_t high = p11 + (p01 >> 32) + (p10 >> 32) + (middle >> 32);
    return low ^ high;
#endif
}

/* n (8 or 4) bytes at p as a little-endian word. */
static inline uint64_t fp_word(const unsigned char *p, size_t n) {
    uint64_t value = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&value, p, n);
#else
    for (size_t i = 0; i < n; i++) value |= (uint64_t)p[i] << (8 * i);
#endif
    return value;
}

/* One round: 16 bytes (two words) into the state. */
static inline Fp fp_round(Fp state, uint64_t x, uint64_t y) {
    Fp out = {fp_mum(x ^ state.a ^ FP_K0, y ^ state.b ^ FP_K1),
              fp_mum(y ^ state.a ^ FP_K2, x ^ state.b ^ FP_K3)};
    return out;
}

/* A string of more than 16 bytes. Past 64 bytes, four independent chains take 16
 * bytes each a step (the multiplications overlap: some 4 times the speed of one
 * chain), folded into the state; then 16 bytes a round; the last 1 to 16 bytes
 * are read as two words that may overlap (the count, in the first state, tells
 * them apart). */
static Fp fp_long(uint64_t tag, const unsigned char *p, size_t n) {
    Fp state = {FP_K0 ^ tag, FP_K1 ^ (uint64_t)n};
    if (n > 64) {
        uint64_t h0 = FP_K0 ^ (uint64_t)n, h1 = FP_K1 ^ tag, h2 = FP_K2 ^ (uint64_t)n,
                 h3 = FP_K3 ^ tag;
        do {
            h0 = fp_mum(fp_word(p, 8) ^ FP_K0, fp_word(p + 8, 8) ^ h0);
            h1 = fp_mum(fp_word(p + 16, 8) ^ FP_K1, fp_word(p + 24, 8) ^ h1);
            h2 = fp_mum(fp_word(p + 32, 8) ^ FP_K2, fp_word(p + 40, 8) ^ h2);
            h3 = fp_mum(fp_word(p + 48, 8) ^ FP_K3, fp_word(p + 56, 8) ^ h3);
            p += 64;
            n -= 64;
        } while (n > 64);
        state = fp_round(fp_round(state, h0, h1), h2, h3);
    }
    while (n > 16) {
        state = fp_round(state, fp_word(p, 8), fp_word(p + 8, 8));
        p += 16;
        n -= 16;
    }
    return fp_round(state, fp_word(p + n - 16, 8), fp_word(p + n - 8, 8));
}

/* A scalar's bytes (a string's text, a number's canonical spelling). Up to 16
 * bytes are kept as they are (two words that may overlap, with the count and
 * tag: a different string of the same kind is a different pair): every value
 * is mixed where it is used, as an array item or an object member. */
static inline Fp fp_bytes(uint64_t tag, const unsigned char *p, size_t n) {
    uint64_t x = 0, y = 0;
    if (n > 16) {
        return fp_long(tag, p, n);
    } else if (n >= 8) {
        x = fp_word(p, 8);
        y = fp_word(p + n - 8, 8);
    } else if (n >= 4) {
        x = fp_word(p, 4);
        y = fp_word(p + n - 4, 4);
    } else if (n > 0) {
        x = (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
    }
    Fp out = {x ^ (uint64_t)n * FP_K2, y ^ (tag + (uint64_t)n * 32) * FP_K3};
    return out;
}

/* An object member: key and value do not commute. */
static inline Fp fp_member(Fp key, Fp value) {
    Fp out = {fp_mum(key.a ^ FP_K0, value.b ^ FP_K1), fp_mum(value.a ^ FP_K2, key.b ^ FP_K3)};
    return out;
}

/* An array's or object's last round: its kind and item count. */
static inline Fp fp_close(Fp state, uint64_t tag, uint64_t count) {
    return fp_round(state, tag, count);
}

static Fp FP_TRUE, FP_FALSE, FP_NULL;

/* The scratch buffer holds at least `size` bytes; 0 when memory runs out. */
static int fp_reserve(Parser *P, size_t size) {
    Scratch *scratch = P->scratch;
    if (scratch->cap >= size) return 1;
    size_t cap = scratch->cap ? scratch->cap : 4096;
    while (cap < size) cap *= 2;
    unsigned char *bytes = PyMem_RawRealloc(scratch->bytes, cap);
    if (bytes == NULL) return 0;
    scratch->bytes = bytes;
    scratch->cap = cap;
    return 1;
}

static inline int hex4(const unsigned char *p, unsigned *out);
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* A string's fingerprint from its contents between the quotes, escapes checked
 * by parse_string. Unescaped, a string is never longer than its text. */
static int fp_unescaped(Parser *P, const unsigned char *s, const unsigned char *e, Fp *out);

static inline int fp_string(Parser *P, const unsigned char *s, const unsigned char *e,
                            int escaped, Fp *out) {
    if (!escaped) {
        *out = fp_bytes(TAG_STR, s, (size_t)(e - s));
        return 1;
    }
    return fp_unescaped(P, s, e, out);
}

static int fp_unescaped(Parser *P, const unsigned char *s, const unsigned char *e, Fp *out) {
    if (!fp_reserve(P, (size_t)(e - s))) return 0;
    unsigned char *o = P->scratch->bytes;
    while (s < e) {
        const unsigned char *slash = memchr(s, '\\', (size_t)(e - s));
        if (slash == NULL) {
            memcpy(o, s, (size_t)(e - s));
            o += e - s;
            break;
        }
        memcpy(o, s, (size_t)(slash - s));
        o += slash - s;
        s = slash + 2;
        switch (slash[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned code, low;
            hex4(s, &code);
            s += 4;
            if (code >= 0xD800 && code <= 0xDBFF) { /* its low half follows (checked) */
                hex4(s + 2, &low);
                s += 6;
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            }
            if (code < 0x80) {
                *o++ = (unsigned char)code;
            } else if (code < 0x800) {
                *o++ = (unsigned char)(0xC0 | code >> 6);
                *o++ = (unsigned char)(0x80 | (code & 0x3F));
            } else if (code < 0x10000) {
                *o++ = (unsigned char)(0xE0 | code >> 12);
                *o++ = (unsigned char)(0x80 | (code >> 6 & 0x3F));
                *o++ = (unsigned char)(0x80 | (code & 0x3F));
            } else {
                *o++ = (unsigned char)(0xF0 | code >> 18);
                *o++ = (unsigned char)(0x80 | (code >> 12 & 0x3F));
                *o++ = (unsigned char)(0x80 | (code >> 6 & 0x3F));
                *o++ = (unsigned char)(0x80 | (code & 0x3F));
            }
            break;
        }
        default: /* " \\ / */
            *o++ = slash[1];
        }
    }
    *out = fp_bytes(TAG_STR, P->scratch->bytes, (size_t)(o - P->scratch->bytes));
    return 1;
}

/* A number's fingerprint from its text (checked by parse_number): its exact
 * value spelled [-]DIGITS e EXPONENT, DIGITS without leading or trailing
 * zeros; a zero is "0". */
static int fp_number(Parser *P, const unsigned char *s, const unsigned char *e, Fp *out) {
    const int negative = *s == '-';
    s += negative;
    if (!fp_reserve(P, (size_t)(e - s) + 32)) return 0;
    unsigned char *digits = P->scratch->bytes + 1, *d = digits;
    int64_t exponent = 0;
    while (s < e && is_digit(*s)) *d++ = *s++;
    if (s < e && *s == '.') {
        s++;
        while (s < e && is_digit(*s)) {
            *d++ = *s++;
            exponent--;
        }
    }
    if (s < e) { /* e or E, a sign, at most four digits */
        s++;
        const int down = *s == '-';
        s += *s == '-' || *s == '+';
        int64_t written = 0;
        while (s < e) written = written * 10 + (*s++ - '0');
        exponent += down ? -written : written;
    }
    unsigned char *first = digits;
    while (first < d && *first == '0') first++;
    if (first == d) {
        *out = fp_bytes(TAG_NUM, (const unsigned char *)"0", 1);
        return 1;
    }
    while (d[-1] == '0') {
        d--;
        exponent++;
    }
    unsigned char *text = first;
    if (negative) *--text = '-'; /* first > bytes: the sign's place is free */
    *d++ = 'e';
    if (exponent < 0) {
        *d++ = '-';
        exponent = -exponent;
    }
    unsigned char reversed[24];
    int places = 0;
    do {
        reversed[places++] = (unsigned char)('0' + exponent % 10);
        exponent /= 10;
    } while (exponent);
    while (places) *d++ = reversed[--places];
    *out = fp_bytes(TAG_NUM, text, (size_t)(d - text));
    return 1;
}

/* A key met in the object whose keys start at `base`: 0 when named before. */
static int fp_new_key(Parser *P, int base, Fp key) {
    Fp *keys = P->scratch->keys;
    for (int i = base; i < P->n_keys; i++) {
        if (keys[i].a == key.a && keys[i].b == key.b) return 0;
    }
    if (P->n_keys == MAX_KEYS) return 0;
    keys[P->n_keys++] = key;
    return 1;
}

/* 32 hex digits: the first half, then the second, most significant digit first. */
static void fp_write_hex(unsigned char *out, Fp fp) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[i] = (unsigned char)digits[fp.a >> (60 - 4 * i) & 0xF];
        out[16 + i] = (unsigned char)digits[fp.b >> (60 - 4 * i) & 0xF];
    }
}

/* ------------------------------------------------------------------------- */
/* The parser: each function returns 1 when the text is fine, 0 to refuse.    */

static int parse_value(Parser *P, const Node *node, Fp *out);

static inline void skip_ws(Parser *P) {
    const unsigned char *p = P->p, *end = P->end;
    /* most calls meet no whitespace: one comparison then */
    while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
    }
    P->p = p;
}

static inline int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (p + 4 <= end checked by the caller). */
static inline int hex4(const unsigned char *p, unsigned *out) {
    unsigned value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(p[i]);
        if (digit < 0) return 0;
        value = value << 4 | (unsigned)digit;
    }
    *out = value;
    return 1;
}

/* A string at P->p (its opening quote): its contents' span, and whether it
 * holds an escape. */
static int parse_string(Parser *P, const unsigned char **start, const unsigned char **stop,
                        int *escaped) {
    const unsigned char *p = P->p + 1, *end = P->end;
    *start = p;
    *escaped = 0;
    for (;;) {
#ifdef HAVE_SSE2
        const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
        const __m128i control = _mm_set1_epi8(0x1F);
        while (end - p >= 16) {
            __m128i chunk = _mm_loadu_si128((const __m128i *)p);
            __m128i hits = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, slash)),
                _mm_cmpeq_epi8(_mm_max_epu8(chunk, control), control));
            int mask = _mm_movemask_epi8(hits);
            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                goto special;
            }
            p += 16;
        }
#endif
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) {
            p++;
        }
        if (p >= end) {
            return 0;
        }
#ifdef HAVE_SSE2
    special:
#endif
        if (*p == '"') {
            *stop = p;
            P->p = p + 1;
            return 1;
        }
        if (*p < 0x20) {
            return 0; /* a raw control character */
        }
        *escaped = 1;
        if (++p >= end) {
            return 0;
        }
        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p++;
            break;
        case 'u': {
            unsigned unit, low;
            if (end - p < 5 || !hex4(p + 1, &unit) || unit == 0 ||
                (unit >= 0xDC00 && unit <= 0xDFFF)) {
                return 0; /* \u0000, or a lone low surrogate */
            }
            p += 5;
            if (unit >= 0xD800 && unit <= 0xDBFF) { /* a high surrogate: its low half */
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &low) ||
                    low < 0xDC00 || low > 0xDFFF) {
                    return 0;
                }
                p += 6;
            }
            break;
        }
        default:
            return 0;
        }
    }
}

#ifdef HAVE_STRTOD_L
/* The "C" locale, made at import: numbers are read the same whatever LC_NUMERIC says. */
static locale_t c_locale;
static inline double to_double(const char *text, char **stopped) {
    return c_locale ? strtod_l(text, stopped, c_locale) : strtod(text, stopped);
}
#else
static inline double to_double(const char *text, char **stopped) { return strtod(text, stopped); }
#endif

/* A number at P->p, by RFC 8259's grammar; an exponent of 5 or more digits
 * is refused (PostgreSQL's numeric refuses it). */
static int parse_number(Parser *P, const Node *node, Fp *out) {
    const unsigned char *p = P->p, *end = P->end, *start = P->p, *digits;
    if (p < end && *p == '-') p++;
    if (p >= end) return 0;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p)) p++;
    } else {
        return 0;
    }
    if (p < end && *p == '.') {
        digits = ++p;
        while (p < end && is_digit(*p)) p++;
        if (p == digits) return 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        digits = p;
        while (p < end && is_digit(*p)) p++;
        if (p == digits || p - digits >= 5) return 0;
    }
    P->p = p;
    if (P->fp && !fp_number(P, start, p, out)) P->fp = 0;
    if (node == NULL || !node->num_typed) {
        return 1;
    }
    char text[MAX_NUMBER + 1];
    Py_ssize_t len = p - start;
    if (len > MAX_NUMBER) return 0;
    memcpy(text, start, (size_t)len);
    text[len] = '\0';
    char *stopped;
    double value = to_double(text, &stopped);
    /* stopped short (a locale whose decimal point is not '.', where no C locale is at hand):
     * refused, not guessed */
    if (stopped != text + len || !isfinite(value)) return 0;
    if (node->has_min && !(value >= node->min)) return 0;
    if (node->has_max && !(value <= node->max)) return 0;
    if (node->n_one_of) {
        for (Py_ssize_t i = 0; i < node->n_one_of; i++) {
            if (value == node->one_of[i]) return 1;
        }
        return 0;
    }
    return 1;
}

static inline int parse_literal(Parser *P, const char *word, Py_ssize_t len) {
    if (P->end - P->p < len || memcmp(P->p, word, (size_t)len) != 0) return 0;
    P->p += len;
    return 1;
}

/* What follows an item of an array or object: 1 a comma (another item), 0 the
 * closing bracket, -1 anything else. */
static inline int after_item(Parser *P, unsigned char close) {
    skip_ws(P);
    if (P->p >= P->end) return -1;
    const unsigned char next = *P->p++;
    return next == ',' ? 1 : next == close ? 0 : -1;
}

static int parse_array(Parser *P, const Node *items, Py_ssize_t min_items, Fp *out) {
    if (++P->depth > MAX_DEPTH) return 0;
    P->p++; /* [ */
    skip_ws(P);
    Py_ssize_t count = 0;
    Fp state = {FP_K2, FP_K3}, item;
    if (P->p < P->end && *P->p == ']') {
        P->p++;
    } else {
        int more;
        do {
            skip_ws(P);
            if (!parse_value(P, items, &item)) return 0;
            if (P->fp) state = fp_round(state, item.a, item.b);
            count++;
        } while ((more = after_item(P, ']')) == 1);
        if (more < 0) return 0;
    }
    P->depth--;
    if (P->fp) *out = fp_close(state, TAG_ARR, (uint64_t)count);
    return count >= min_items;
}

/* An object: a struct when `node` has fields (each checked, the others only
 * parsed), else any object. */
static int parse_object(Parser *P, const Node *node, Fp *out) {
    if (++P->depth > MAX_DEPTH) return 0;
    P->p++; /* { */
    const int is_struct = node != NULL && node->fields != NULL;
    uint64_t present = 0;
    const int base = P->n_keys;
    Fp sum = {0, 0}, key_fp, value_fp;
    uint64_t count = 0;
    skip_ws(P);
    if (P->p < P->end && *P->p == '}') {
        P->p++;
    } else {
        for (;;) {
            const unsigned char *key, *key_end;
            int escaped;
            skip_ws(P);
            if (P->p >= P->end || *P->p != '"' || !parse_string(P, &key, &key_end, &escaped)) {
                return 0;
            }
            skip_ws(P);
            if (P->p >= P->end || *P->p != ':') return 0;
            P->p++;
            skip_ws(P);
            const Node *member = NULL;
            if (is_struct) {
                if (escaped) return 0; /* msgspec would match the unescaped name */
                Py_ssize_t len = key_end - key;
                for (Py_ssize_t i = 0; i < node->n_fields; i++) {
                    const Field *field = &node->fields[i];
                    if (field->len == len && memcmp(field->name, key, (size_t)len) == 0) {
                        member = field->node;
                        present |= (uint64_t)1 << i;
                        break;
                    }
                }
                if (member != NULL && member->read >= 0) {
                    uint32_t bit = (uint32_t)1 << member->read;
                    if (P->met & bit) return 0; /* named twice: the SQL reads the first */
                    P->met |= bit;
                }
            }
            if (P->fp && !(fp_string(P, key, key_end, escaped, &key_fp) &&
                           fp_new_key(P, base, key_fp))) {
                P->fp = 0;
            }
            if (!parse_value(P, member, &value_fp)) return 0;
            if (P->fp) {
                const Fp member_fp = fp_member(key_fp, value_fp);
                sum.a += member_fp.a;
                sum.b += member_fp.b;
                count++;
            }
            const int more = after_item(P, '}');
            if (more < 0) return 0;
            if (!more) break;
        }
    }
    P->depth--;
    P->n_keys = base;
    if (P->fp) *out = fp_close(sum, TAG_OBJ, count);
    return !is_struct || (present & node->required) == node->required;
}

/* A value where `node` says what it must be (NULL: any value). */
static int parse_value(Parser *P, const Node *node, Fp *out) {
    const int allow = node ? node->allow : -1;
    if (P->p >= P->end) return 0;
    switch (*P->p) {
    case '"': {
        const unsigned char *start, *stop;
        int escaped;
        if (!(allow & T_STR) || !parse_string(P, &start, &stop, &escaped)) return 0;
        if (P->fp && !fp_string(P, start, stop, escaped, out)) P->fp = 0;
        if (node == NULL) return 1;
        if (node->str_nonempty && stop == start) return 0;
        if (node->n_enum) {
            if (escaped) return 0;
            Py_ssize_t len = stop - start, i;
            for (i = 0; i < node->n_enum; i++) {
                if (node->enum_lens[i] == len &&
                    memcmp(node->enums[i], start, (size_t)len) == 0) {
                    break;
                }
            }
            if (i == node->n_enum) return 0;
        }
        if (node->read >= 0 && node->read_string) {
            if (escaped) return 0;
            P->spans[2 * node->read] = start - P->line;
            P->spans[2 * node->read + 1] = stop - P->line;
        }
        return 1;
    }
    case '{':
        return (allow & T_OBJ) && parse_object(P, node, out);
    case '[':
        return (allow & T_ARR) &&
               parse_array(P, node ? node->items : NULL, node ? node->arr_min : 0, out);
    case 't':
        *out = FP_TRUE;
        return (allow & T_BOOL) && parse_literal(P, "true", 4);
    case 'f':
        *out = FP_FALSE;
        return (allow & T_BOOL) && parse_literal(P, "false", 5);
    case 'n':
        *out = FP_NULL;
        return (allow & T_NULL) && parse_literal(P, "null", 4);
    default:
        return (allow & T_NUM) && parse_number(P, node, out);
    }
}

/* Whether the line is cleared; its fingerprint in `fp` (`fp->a == fp->b == 0`: none). */
static int parse_line(const Schema *schema, const unsigned char *line, Py_ssize_t len,
                      int64_t *spans, Scratch *scratch, Fp *fp) {
    Parser P = {line, line + len, line, 0, 0, spans, 1, 0, scratch};
    for (int i = 0; i < 2 * schema->n_read; i++) {
        spans[i] = -1;
    }
    skip_ws(&P);
    if (P.p >= P.end || *P.p != '{' || !parse_value(&P, schema->root, fp)) return 0;
    skip_ws(&P);
    if (!P.fp) fp->a = fp->b = 0;
    return P.p == P.end;
}

/* ------------------------------------------------------------------------- */

/* Offset k of an Arrow offsets buffer, int64 when `large`, else int32. */
static inline void put_offset(char *offsets, Py_ssize_t k, int64_t at, int large) {
    if (large) {
        memcpy(offsets + 8 * k, &at, 8);
    } else {
        const int32_t small = (int32_t)at;
        memcpy(offsets + 4 * k, &small, 4);
    }
}

/* The values of read field `r` in the cleared lines, as the buffers of an Arrow
 * string array: (validity or None, offsets, data, null count); offsets are int32,
 * or int64 (large_string) when the values pass 2 GB. The values are the lines'
 * own bytes (no escapes: the pass refuses them in a read string). */
static PyObject *read_column(const unsigned char *text, const int64_t *spans, int n_spans,
                             int r, const unsigned char *cleared, Py_ssize_t count,
                             Py_ssize_t kept) {
    int64_t total = 0;
    Py_ssize_t nulls = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!cleared[i]) continue;
        const int64_t *span = spans + n_spans * i + 2 * r;
        if (span[0] >= 0) {
            total += span[1] - span[0];
        } else {
            nulls++;
        }
    }
    const int large = total > INT32_MAX;
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (large ? 8 : 4) * (kept + 1));
    PyObject *data = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    PyObject *validity = nulls ? PyBytes_FromStringAndSize(NULL, (kept + 7) / 8) : Py_NewRef(Py_None);
    if (offsets == NULL || data == NULL || validity == NULL) {
        Py_XDECREF(offsets);
        Py_XDECREF(data);
        Py_XDECREF(validity);
        return NULL;
    }
    unsigned char *bits = nulls ? (unsigned char *)PyBytes_AS_STRING(validity) : NULL;
    if (bits != NULL) memset(bits, 0, (size_t)(kept + 7) / 8);
    char *out = PyBytes_AS_STRING(data), *offset_bytes = PyBytes_AS_STRING(offsets);
    int64_t at = 0;
    for (Py_ssize_t i = 0, k = 0; i < count; i++) {
        if (!cleared[i]) continue;
        put_offset(offset_bytes, k, at, large);
        const int64_t *span = spans + n_spans * i + 2 * r;
        if (span[0] >= 0) {
            memcpy(out + at, text + span[0], (size_t)(span[1] - span[0]));
            at += span[1] - span[0];
            if (bits != NULL) bits[k >> 3] |= (unsigned char)(1u << (k & 7));
        }
        k++;
    }
    put_offset(offset_bytes, kept, at, large);
    return Py_BuildValue("(NNNn)", validity, offsets, data, nulls);
}

PyDoc_STRVAR(screen_lines_doc,
"screen_lines(schema, data, offsets, first, count, skip) -> (positions, columns, fingerprints)\n\n"
"Check lines first .. first+count-1 of an Arrow large_string array against a\n"
"compiled schema: `data` is its data buffer, `offsets` its int64 offsets\n"
"buffer, `skip` None or one byte a line (non-zero: not read). `positions`\n"
"holds the cleared lines' positions (int64, counted from `first`); `columns`\n"
"has, for each read field in order, the buffers of an Arrow string array of its\n"
"values in the cleared lines, (validity or None, offsets, data, null count),\n"
"offsets int32 (int64 past 2 GB of values), or None for a read field that keeps\n"
"no string. No Python object a line: the lines are read without the GIL, and\n"
"what comes back is a few buffers. `fingerprints` holds 33 bytes a cleared\n"
"line: the content fingerprint of the line, 'c' then 32 hex digits, or 33 zero\n"
"bytes where it has none.");

static PyObject *screen_lines(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *capsule, *data_obj, *offsets_obj, *skip_obj;
    Py_ssize_t first, count;
    if (!PyArg_ParseTuple(args, "OOOnnO", &capsule, &data_obj, &offsets_obj, &first, &count,
                          &skip_obj)) {
        return NULL;
    }
    Schema *schema = PyCapsule_GetPointer(capsule, SCHEMA_CAPSULE);
    if (schema == NULL) {
        return NULL;
    }
    Py_buffer data = {0}, offsets = {0}, skip = {0};
    PyObject *result = NULL, *positions = NULL, *columns = NULL, *fingerprints = NULL;
    unsigned char *cleared = NULL;
    int64_t *spans = NULL;
    Fp *fps = NULL;
    Scratch *scratch = NULL;
    if (data_obj != Py_None && PyObject_GetBuffer(data_obj, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(offsets_obj, &offsets, PyBUF_SIMPLE) < 0) {
        goto done;
    }
    if (skip_obj != Py_None && PyObject_GetBuffer(skip_obj, &skip, PyBUF_SIMPLE) < 0) {
        goto done;
    }
    const Py_ssize_t n_offsets = offsets.len / (Py_ssize_t)sizeof(int64_t);
    /* (no product or sum here can overflow) */
    if (first < 0 || count < 0 || first >= n_offsets || count > n_offsets - first - 1 ||
        (skip.buf != NULL && skip.len < count)) {
        PyErr_SetString(PyExc_ValueError, "offsets or skip shorter than the lines");
        goto done;
    }
    const int64_t *ends = (const int64_t *)offsets.buf + first;
    const int n_read = schema->n_read;
    const int n_spans = 2 * (n_read ? n_read : 1);
    cleared = PyMem_RawMalloc(count ? count : 1);
    spans = PyMem_RawMalloc(sizeof(int64_t) * (size_t)n_spans * (count ? count : 1));
    fps = PyMem_RawMalloc(sizeof(Fp) * (size_t)(count ? count : 1));
    scratch = PyMem_RawCalloc(1, sizeof(Scratch));
    if (cleared == NULL || spans == NULL || fps == NULL || scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *text = data.buf, *skipped = skip.buf;
    const int64_t text_len = data.len;
    Py_ssize_t kept = 0;
    int outside = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        /* each offset read once, then checked (a writable buffer may change meanwhile) */
        const int64_t start = ends[i], stop = ends[i + 1];
        if (start < 0 || start > stop || stop > text_len) {
            outside = 1;
            break;
        }
        int64_t *line_spans = spans + n_spans * i;
        cleared[i] = (skipped == NULL || !skipped[i]) &&
                     parse_line(schema, text + start, stop - start, line_spans, scratch, &fps[i]);
        if (cleared[i]) {
            for (int r = 0; r < n_read; r++) { /* spans from the start of the text */
                if (line_spans[2 * r] >= 0) {
                    line_spans[2 * r] += start;
                    line_spans[2 * r + 1] += start;
                }
            }
        }
        kept += cleared[i];
    }
    Py_END_ALLOW_THREADS
    if (outside) {
        PyErr_SetString(PyExc_ValueError, "offsets out of the data buffer");
        goto done;
    }
    positions = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int64_t) * kept);
    columns = PyList_New(n_read);
    fingerprints = PyBytes_FromStringAndSize(NULL, 33 * kept);
    if (positions == NULL || columns == NULL || fingerprints == NULL) {
        goto done;
    }
    int64_t *position = (int64_t *)PyBytes_AS_STRING(positions);
    unsigned char *hex = (unsigned char *)PyBytes_AS_STRING(fingerprints);
    for (Py_ssize_t i = 0, k = 0; i < count; i++) {
        if (!cleared[i]) {
            continue;
        }
        position[k] = i;
        if (fps[i].a || fps[i].b) {
            hex[33 * k] = 'c';
            fp_write_hex(hex + 33 * k + 1, fps[i]);
        } else {
            memset(hex + 33 * k, 0, 33);
        }
        k++;
    }
    for (int r = 0; r < n_read; r++) {
        PyObject *column = schema->read_strings[r]
                               ? read_column(text, spans, n_spans, r, cleared, count, kept)
                               : Py_NewRef(Py_None);
        if (column == NULL) {
            goto done;
        }
        PyList_SET_ITEM(columns, r, column);
    }
    result = PyTuple_Pack(3, positions, columns, fingerprints);
done:
    Py_XDECREF(positions);
    Py_XDECREF(columns);
    Py_XDECREF(fingerprints);
    PyMem_RawFree(cleared);
    PyMem_RawFree(spans);
    PyMem_RawFree(fps);
    if (scratch != NULL) PyMem_RawFree(scratch->bytes);
    PyMem_RawFree(scratch);
    /* (a no-op for a buffer not taken: its obj is NULL) */
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&skip);
    return result;
}

PyDoc_STRVAR(split_lines_doc,
"split_lines(buffer, size) -> (offsets, text)\n\n"
"The first `size` bytes of `buffer`, split at each newline, as the buffers of\n"
"an Arrow large_binary array: `offsets` (int64, one more than the lines) and\n"
"`text` (the lines one after the other, newlines left out). Carriage returns\n"
"ending a line are not part of it. The lines are one more than the newlines:\n"
"the last is what follows the last newline (maybe nothing). One pass, without\n"
"the GIL.");

/* Line k (0-based) of text[0:size]: its end, less any carriage returns ending it. */
static inline const char *line_end(const char *start, const char *stop) {
    while (stop > start && stop[-1] == '\r') {
        stop--;
    }
    return stop;
}

static PyObject *split_lines(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer source = {0};
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "y*n", &source, &size)) {
        return NULL;
    }
    PyObject *offsets = NULL, *text = NULL, *result = NULL;
    int64_t *ends = NULL;
    if (size < 0 || size > source.len) {
        PyErr_SetString(PyExc_ValueError, "size outside the buffer");
        goto done;
    }
    /* the text is at most `size` bytes; the line ends grow as they are found */
    text = PyBytes_FromStringAndSize(NULL, size);
    size_t capacity = (size_t)size / 1024 + 16, lines = 0;
    ends = PyMem_RawMalloc(capacity * sizeof(int64_t));
    if (text == NULL || ends == NULL) {
        if (ends == NULL) PyErr_NoMemory();
        goto done;
    }
    char *out = PyBytes_AS_STRING(text);
    const char *p = source.buf, *end = (const char *)source.buf + size;
    int64_t written = 0;
    int no_memory = 0;
    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        const char *stop = line_end(p, newline ? newline : end);
        memcpy(out + written, p, (size_t)(stop - p)); /* (never past `size` in all) */
        written += stop - p;
        if (lines == capacity) {
            int64_t *grown = PyMem_RawRealloc(ends, 2 * capacity * sizeof(int64_t));
            if (grown == NULL) {
                no_memory = 1;
                break;
            }
            ends = grown;
            capacity *= 2;
        }
        ends[lines++] = written;
        if (newline == NULL) {
            break;
        }
        p = newline + 1;
    }
    Py_END_ALLOW_THREADS
    if (no_memory) {
        PyErr_NoMemory();
        goto done;
    }
    offsets = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((lines + 1) * sizeof(int64_t)));
    if (offsets == NULL || (written < size && _PyBytes_Resize(&text, (Py_ssize_t)written) < 0)) {
        goto done; /* (text is NULL after a failed resize) */
    }
    int64_t *at = (int64_t *)PyBytes_AS_STRING(offsets);
    at[0] = 0;
    memcpy(at + 1, ends, lines * sizeof(int64_t));
    result = PyTuple_Pack(2, offsets, text);
done:
    PyMem_RawFree(ends);
    Py_XDECREF(offsets);
    Py_XDECREF(text);
    PyBuffer_Release(&source);
    return result;
}

PyDoc_STRVAR(hash_strings_doc,
"hash_strings(data, offsets, first, count, large, hex=False) -> bytes\n\n"
"A 128-bit hash of each of strings first .. first+count-1 of an Arrow string\n"
"array: `data` is its data buffer (None when empty), `offsets` its offsets buffer\n"
"(int64 when `large`, else int32). The content fingerprints' hash of the bytes,\n"
"mixed once more, so the same on every machine: 16 bytes a string (two 64-bit\n"
"words in the machine's byte order: a Bloom filter's bit positions), or with\n"
"`hex` 32 hex digits a string (a line's record_hash). Without the GIL.");

static PyObject *hash_strings(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *data_obj, *offsets_obj;
    Py_ssize_t first, count;
    int large, hex = 0;
    if (!PyArg_ParseTuple(args, "OOnnp|p", &data_obj, &offsets_obj, &first, &count, &large,
                          &hex)) {
        return NULL;
    }
    Py_buffer data = {0}, offsets = {0};
    PyObject *result = NULL;
    if (data_obj != Py_None && PyObject_GetBuffer(data_obj, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(offsets_obj, &offsets, PyBUF_SIMPLE) < 0) {
        goto done;
    }
    const Py_ssize_t width = large ? 8 : 4, n_offsets = offsets.len / width;
    if (first < 0 || count < 0 || first >= n_offsets || count > n_offsets - first - 1) {
        PyErr_SetString(PyExc_ValueError, "offsets shorter than the strings");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, (hex ? 32 : 16) * count);
    if (result == NULL) {
        goto done;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *text = data.buf;
    const int64_t text_len = data.len;
    int outside = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        int64_t start, stop;
        if (large) {
            start = ((const int64_t *)offsets.buf)[first + i];
            stop = ((const int64_t *)offsets.buf)[first + i + 1];
        } else {
            start = ((const int32_t *)offsets.buf)[first + i];
            stop = ((const int32_t *)offsets.buf)[first + i + 1];
        }
        if (start < 0 || start > stop || stop > text_len) {
            outside = 1;
            break;
        }
        /* one more round: a string of up to 16 bytes is not mixed by fp_bytes */
        const Fp kept = fp_bytes(TAG_STR, text + start, (size_t)(stop - start));
        const Fp mixed = fp_round(kept, FP_K2, FP_K3);
        if (hex) {
            fp_write_hex(out + 32 * i, mixed);
        } else {
            memcpy(out + 16 * i, &mixed.a, 8);
            memcpy(out + 16 * i + 8, &mixed.b, 8);
        }
    }
    Py_END_ALLOW_THREADS
    if (outside) {
        PyErr_SetString(PyExc_ValueError, "offsets out of the data buffer");
        Py_CLEAR(result);
    }
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    return result;
}

PyDoc_STRVAR(compile_schema_doc,
"compile_schema(node) -> schema\n\n"
"Compile a schema of nested tuples (see trellis.services.screening) for screen_lines.");

static PyMethodDef methods[] = {
    {"compile_schema", compile_schema, METH_O, compile_schema_doc},
    {"screen_lines", screen_lines, METH_VARARGS, screen_lines_doc},
    {"split_lines", split_lines, METH_VARARGS, split_lines_doc},
    {"hash_strings", hash_strings, METH_VARARGS, hash_strings_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "trellis._screen",
    "The ingest's C passes: the screen's JSON pass (trellis.services.screening) and the line "
    "split (trellis.services.line_chunks).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__screen(void) {
#ifdef HAVE_STRTOD_L
    if (c_locale == (locale_t)0) {
        c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); /* 0 on failure: strtod */
    }
#endif
    FP_TRUE = fp_bytes(TAG_TRUE, (const unsigned char *)"", 0);
    FP_FALSE = fp_bytes(TAG_FALSE, (const unsigned char *)"", 0);
    FP_NULL = fp_bytes(TAG_NULL, (const unsigned char *)"", 0);
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "T_NULL", T_NULL) < 0 ||
        PyModule_AddIntConstant(module, "T_BOOL", T_BOOL) < 0 ||
        PyModule_AddIntConstant(module, "T_NUM", T_NUM) < 0 ||
        PyModule_AddIntConstant(module, "T_STR", T_STR) < 0 ||
        PyModule_AddIntConstant(module, "T_ARR", T_ARR) < 0 ||
        PyModule_AddIntConstant(module, "T_OBJ", T_OBJ) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
