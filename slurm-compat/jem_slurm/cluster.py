"""The cluster's name where the commands print one (sacctmgr's `C =` and Cluster column,
sshare's, squeue's and sacct's Cluster, scontrol show config's ClusterName): the controller's
`[cluster] name`, which its Ping answers.

A command asks once per run, and only when its output names the cluster (a Ping is a round
trip that squeue's and sacct's usual columns do not need), then passes the name on.
"""


def cluster_name(client) -> str:
    """The name of the cluster whose controller `client` talks to."""
    return client.ping().cluster_name
