/* Recursive descent over RFC 8259's grammar; each function returns the
 * position after what it read, or NULL when the text is not JSON. */
#include "ft_test_json.h"

#include <stddef.h>
#include <string.h>

#define MAX_DEPTH 32

static const char *value(const char *p, int depth);

static const char *ws(const char *p)
{
    return p + strspn(p, " \t\r\n");
}

static const char *digits(const char *p)
{
    if (*p < '0' || *p > '9')
        return NULL;
    return p + strspn(p, "0123456789");
}

static const char *number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (!(p = digits(p)))
        return NULL;
    if (*p == '.' && !(p = digits(p + 1)))
        return NULL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        p = digits(p);
    }
    return p;
}

static const char *string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20)
            return NULL; /* the end of the text, or a raw control character */
        if (*p != '\\')
            continue;
        p++;
        if (*p == 'u') {
            if (strspn(p + 1, "0123456789abcdefABCDEF") < 4)
                return NULL;
            p += 4;
        } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
            return NULL;
        }
    }
    return p + 1;
}

/* Members of an object (`close` '}') or elements of an array (']'). */
static const char *items(const char *p, char close, int depth)
{
    p = ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (close == '}') {
            if (!(p = string(p)) || *(p = ws(p)) != ':')
                return NULL;
            p++;
        }
        if (!(p = value(p, depth + 1)))
            return NULL;
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = ws(p + 1);
    }
}

static const char *value(const char *p, int depth)
{
    static const char *const words[] = {"true", "false", "null"};
    if (depth > MAX_DEPTH)
        return NULL;
    p = ws(p);
    if (*p == '{' || *p == '[')
        p = items(p, *p == '{' ? '}' : ']', depth);
    else if (*p == '"')
        p = string(p);
    else if (*p == '-' || (*p >= '0' && *p <= '9'))
        p = number(p);
    else {
        const char *w = NULL;
        for (size_t i = 0; i < 3 && !w; i++)
            if (!strncmp(p, words[i], strlen(words[i])))
                w = p + strlen(words[i]);
        p = w;
    }
    return p ? ws(p) : NULL;
}

bool ft_test_json_valid(const char *text)
{
    const char *end = value(text, 0);
    return end && !*end;
}
