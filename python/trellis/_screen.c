/*
 * trellis._screen: the ingest screen's JSON pass, in C (see services/screening.py),
 * and the line split of the reader (split_lines, see services/line_chunks.py).
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

typedef struct {
    const unsigned char *p, *end, *line;
    int depth;
    uint32_t met;            /* read fields met in this record */
    int64_t *spans;          /* per read field: start, end in the line; -1 for none */
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
/* The parser: each function returns 1 when the text is fine, 0 to refuse.    */

static int parse_value(Parser *P, const Node *node);

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

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

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
static int parse_number(Parser *P, const Node *node) {
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

static int parse_array(Parser *P, const Node *items, Py_ssize_t min_items) {
    if (++P->depth > MAX_DEPTH) return 0;
    P->p++; /* [ */
    skip_ws(P);
    Py_ssize_t count = 0;
    if (P->p < P->end && *P->p == ']') {
        P->p++;
    } else {
        int more;
        do {
            skip_ws(P);
            if (!parse_value(P, items)) return 0;
            count++;
        } while ((more = after_item(P, ']')) == 1);
        if (more < 0) return 0;
    }
    P->depth--;
    return count >= min_items;
}

/* An object: a struct when `node` has fields (each checked, the others only
 * parsed), else any object. */
static int parse_object(Parser *P, const Node *node) {
    if (++P->depth > MAX_DEPTH) return 0;
    P->p++; /* { */
    const int is_struct = node != NULL && node->fields != NULL;
    uint64_t present = 0;
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
            if (!parse_value(P, member)) return 0;
            const int more = after_item(P, '}');
            if (more < 0) return 0;
            if (!more) break;
        }
    }
    P->depth--;
    return !is_struct || (present & node->required) == node->required;
}

/* A value where `node` says what it must be (NULL: any value). */
static int parse_value(Parser *P, const Node *node) {
    const int allow = node ? node->allow : -1;
    if (P->p >= P->end) return 0;
    switch (*P->p) {
    case '"': {
        const unsigned char *start, *stop;
        int escaped;
        if (!(allow & T_STR) || !parse_string(P, &start, &stop, &escaped)) return 0;
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
        return (allow & T_OBJ) && parse_object(P, node);
    case '[':
        return (allow & T_ARR) && parse_array(P, node ? node->items : NULL, node ? node->arr_min : 0);
    case 't':
        return (allow & T_BOOL) && parse_literal(P, "true", 4);
    case 'f':
        return (allow & T_BOOL) && parse_literal(P, "false", 5);
    case 'n':
        return (allow & T_NULL) && parse_literal(P, "null", 4);
    default:
        return (allow & T_NUM) && parse_number(P, node);
    }
}

static int parse_line(const Schema *schema, const unsigned char *line, Py_ssize_t len,
                      int64_t *spans) {
    Parser P = {line, line + len, line, 0, 0, spans};
    for (int i = 0; i < 2 * schema->n_read; i++) {
        spans[i] = -1;
    }
    skip_ws(&P);
    if (P.p >= P.end || *P.p != '{' || !parse_value(&P, schema->root)) return 0;
    skip_ws(&P);
    return P.p == P.end;
}

/* ------------------------------------------------------------------------- */

PyDoc_STRVAR(screen_lines_doc,
"screen_lines(schema, data, offsets, first, count, skip) -> (positions, columns)\n\n"
"Check lines first .. first+count-1 of an Arrow large_string array against a\n"
"compiled schema: `data` is its data buffer, `offsets` its int64 offsets\n"
"buffer, `skip` None or one byte a line (non-zero: not read). `positions`\n"
"lists the cleared lines (0-based, counted from `first`); `columns` has a list\n"
"for each read field, in order, with its value in each cleared line: a str or\n"
"None (always None for the read fields that keep no string). Columns, not a\n"
"tuple a line: strings are not tracked by the garbage collector, tuples are.");

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
    PyObject *result = NULL, *positions = NULL, *columns = NULL;
    unsigned char *cleared = NULL;
    int64_t *spans = NULL;
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
    if (cleared == NULL || spans == NULL) {
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
                     parse_line(schema, text + start, stop - start, line_spans);
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
    positions = PyList_New(kept);
    columns = PyList_New(n_read);
    if (positions == NULL || columns == NULL) {
        goto done;
    }
    for (int r = 0; r < n_read; r++) {
        PyObject *column = PyList_New(kept);
        if (column == NULL) {
            goto done;
        }
        PyList_SET_ITEM(columns, r, column);
    }
    for (Py_ssize_t i = 0, k = 0; i < count; i++) {
        if (!cleared[i]) {
            continue;
        }
        PyObject *position = PyLong_FromSsize_t(i);
        if (position == NULL) {
            goto done;
        }
        PyList_SET_ITEM(positions, k, position);
        const int64_t *line_spans = spans + n_spans * i;
        for (int r = 0; r < n_read; r++) {
            PyObject *value;
            if (schema->read_strings[r] && line_spans[2 * r] >= 0) {
                value = PyUnicode_DecodeUTF8((const char *)text + line_spans[2 * r],
                                             line_spans[2 * r + 1] - line_spans[2 * r], "strict");
                if (value == NULL) {
                    goto done;
                }
            } else {
                value = Py_NewRef(Py_None);
            }
            PyList_SET_ITEM(PyList_GET_ITEM(columns, r), k, value);
        }
        k++;
    }
    result = PyTuple_Pack(2, positions, columns);
done:
    Py_XDECREF(positions);
    Py_XDECREF(columns);
    PyMem_RawFree(cleared);
    PyMem_RawFree(spans);
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

PyDoc_STRVAR(compile_schema_doc,
"compile_schema(node) -> schema\n\n"
"Compile a schema of nested tuples (see trellis.services.screening) for screen_lines.");

static PyMethodDef methods[] = {
    {"compile_schema", compile_schema, METH_O, compile_schema_doc},
    {"screen_lines", screen_lines, METH_VARARGS, screen_lines_doc},
    {"split_lines", split_lines, METH_VARARGS, split_lines_doc},
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
