/* list.h — the intrusive containers every module uses: a circular
 * doubly linked list (fc__link) and a singly linked FIFO (FC__FIFO). No
 * allocation: the nodes live in their owners. Included by internal.h;
 * never installed. */
#ifndef FLASKC_LIST_H
#define FLASKC_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* ===== an intrusive doubly-linked list ================================== */
/* A circular list with a head node: a struct holds an fc__link and joins a
 * list through it. A link that is in no list has next == NULL (zeroed
 * memory, or after fc__list_remove). No allocation, O(1) insert and remove. */
typedef struct fc__link {
    struct fc__link *prev, *next;
} fc__link;
/* a type and a declared name cannot be parenthesised */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define FC__CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
/* for (each entry of head) with e the struct pointer; safe against removing e */
#define FC__LIST_EACH(e, nx, head, type, member)                                                   \
    for (fc__link *nx##_l = (head)->next, *nx = nx##_l->next;                                     \
         nx##_l != (head) && ((e) = FC__CONTAINER(nx##_l, type, member), 1);                       \
         nx##_l = nx, nx = nx##_l->next)
/* NOLINTEND(bugprone-macro-parentheses) */
static inline void fc__list_init(fc__link *head)
{
    head->prev = head->next = head;
}
static inline bool fc__list_empty(const fc__link *head)
{
    return head->next == head;
}
static inline bool fc__list_linked(const fc__link *l)
{
    return l->next != NULL;
}
/* The analyzer cannot follow a circular list through container_of: after a
 * remove it takes the head's neighbour for the removed (NULL-linked) node.
 * The two dereferences below are of links that are in a list by contract. */
static inline void fc__list_insert_before(fc__link *pos, fc__link *l)
{
    l->prev = pos->prev;
    l->next = pos;
    pos->prev->next = l; /* NOLINT(clang-analyzer-core.NullDereference) */
    pos->prev = l;
}
static inline void fc__list_push_back(fc__link *head, fc__link *l)
{
    fc__list_insert_before(head, l);
}
static inline void fc__list_push_front(fc__link *head, fc__link *l)
{
    fc__list_insert_before(head->next, l);
}
static inline void fc__list_remove(fc__link *l)
{
    l->prev->next = l->next; /* NOLINT(clang-analyzer-core.NullDereference) */
    l->next->prev = l->prev; /* NOLINT(clang-analyzer-core.NullDereference) */
    l->prev = l->next = NULL;
}

/* A singly linked FIFO of structs that carry a `next` pointer (a node is in
 * at most one such queue at a time): posts, jobs of the worker pool, a
 * database thread's incoming jobs, a connection's queries in flight. */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define FC__FIFO(T)                                                                                \
    struct {                                                                                       \
        T *head, *tail;                                                                            \
    }
#define FC__FIFO_PUSH(q, node)                                                                     \
    do {                                                                                           \
        (node)->next = NULL;                                                                       \
        if ((q)->tail)                                                                             \
            (q)->tail->next = (node);                                                              \
        else                                                                                       \
            (q)->head = (node);                                                                    \
        (q)->tail = (node);                                                                        \
    } while (0)
/* out = the first node, unlinked (NULL when empty) */
#define FC__FIFO_SHIFT(q, out)                                                                     \
    do {                                                                                           \
        (out) = (q)->head;                                                                         \
        if (out) {                                                                                 \
            (q)->head = (out)->next;                                                               \
            if (!(q)->head)                                                                        \
                (q)->tail = NULL;                                                                  \
            (out)->next = NULL;                                                                    \
        }                                                                                          \
    } while (0)
/* out = the whole chain (linked through next), the queue emptied */
#define FC__FIFO_TAKE(q, out)                                                                      \
    do {                                                                                           \
        (out) = (q)->head;                                                                         \
        (q)->head = (q)->tail = NULL;                                                              \
    } while (0)
/* NOLINTEND(bugprone-macro-parentheses) */

#endif /* FLASKC_LIST_H */
