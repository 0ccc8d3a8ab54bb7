from jem._core._types cimport float64_t, intp_t, int64_t, uint8_t

# A child of the node being ranked, with its sort key: Level Fairshare descending,
# accounts before users, then name.
cdef struct Ranked:
    float64_t neg_lf
    uint8_t is_user
    intp_t name_rank
    intp_t node

cdef int rank_users(
    const intp_t[::1] child_start,     # (n_nodes + 1,) node k's children are child_list[child_start[k]:child_start[k + 1]]
    const intp_t[::1] child_list,      # (n_nodes - 1,) children in tree order
    const int64_t[::1] shares,         # (n_nodes,) raw shares
    const uint8_t[::1] is_user,        # (n_nodes,) 1 for user leaves
    const intp_t[::1] name_rank,       # (n_nodes,) rank of the node's name in sorted order
    float64_t[::1] usage,              # (n_nodes,) users' usage in; every node's (children summed) out
    Ranked *scratch,                   # (n_nodes,)
    float64_t[::1] out_factor,         # (n_nodes,) users: the Fair Tree factor (others untouched)
) noexcept nogil                       # returns 0
