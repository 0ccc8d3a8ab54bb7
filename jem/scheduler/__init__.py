"""Turns a snapshot of the cluster into scheduling decisions through jem._core."""
