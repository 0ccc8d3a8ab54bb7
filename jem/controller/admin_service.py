"""AdminService servicer: nodes, partitions, the fair-share tree, accounts and QOS (sacctmgr),
and the audit trail. Changes need an operator (root, or AdminLevel Operator or Administrator)."""

import dataclasses
import logging
import time

from jem.accountingwire import (association_change_from_pb, association_from_pb, association_to_pb, filter_from_pb,
                                qos_change_from_pb, qos_from_pb, qos_to_pb, user_to_pb)
from jem.controller import nodedown
from jem.controller.authn import identity_of_user
from jem.controller.interceptors import current_identity
from jem.controller.reports import send_kills
from jem.controller.state import ClusterState
from jem.controller.reservations import nodes_for_cores, pick_nodes
from jem.controller.settings import public_settings
from jem.convert import (audit_query_from_pb, audit_to_pb, diagnostics_to_pb, node_to_pb, partition_to_pb,
                         reservation_from_pb,
                         reservation_to_pb, share_row_to_pb, time_to_pb)
from jem.model import accounting, defaults, policy
from jem.model.associations import AssociationFilter, User
from jem.model.errors import InvalidLifespan, InvalidSetting, PermissionDenied, Unauthenticated, UserNotFound
from jem.model.identity import AdminLevel
from jem.model.states import JobState
from jem.scheduler.fairshare import DEFAULT_ACCOUNT, share_rows
from jem.v1 import admin_pb2, admin_pb2_grpc

log = logging.getLogger(__name__)


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, state: ClusterState, *, clock=time.time):
        self._state = state
        self._clock = clock

    def _node_pb(self, node):
        return node_to_pb(node, self._state.partition_names_of(node.name))

    def ListNodes(self, request, context):
        names = set(request.names)
        identity = current_identity()
        with self._state.lock:
            nodes = [n for n in self._state.nodes.all() if not names or n.name in names]
            return admin_pb2.ListNodesResponse(nodes=[self._listed_node_pb(n, identity) for n in nodes])

    def _listed_node_pb(self, node, identity):
        """A node as `identity` may see it: under PrivateData=jobs, of the jobs it runs an ordinary
        user sees only their own (its state and allocation stay whole, as sinfo shows them). Lock held."""
        pb = self._node_pb(node)
        if self._state.config.cluster.is_private("jobs") and not identity.is_operator:
            jobs = self._state.jobs
            own = [job_id for job_id in pb.job_ids
                   if (job := jobs.find(job_id)) is not None and identity.may_act_on(job.uid)]
            del pb.job_ids[:]
            pb.job_ids.extend(own)
        return pb

    def DrainNode(self, request, context):
        _require_operator()
        with self._state.lock:
            return admin_pb2.DrainNodeResponse(node=self._node_pb(self._state.nodes.drain(request.name, request.reason)))

    def ResumeNode(self, request, context):
        return admin_pb2.ResumeNodeResponse(node=self._back_in_service(self._state.nodes.resume, request.name))

    def UndrainNode(self, request, context):
        return admin_pb2.UndrainNodeResponse(node=self._back_in_service(self._state.nodes.undrain, request.name))

    def _back_in_service(self, change, name: str):
        """Apply `change` (NodeTable.resume or .undrain) to node `name` and wake the scheduler,
        which may now use it; the node as sent back."""
        _require_operator()
        with self._state.lock:
            node_pb = self._node_pb(change(name))
        self._state.wake_scheduler()
        return node_pb

    def DownNode(self, request, context):
        _require_operator()
        with self._state.lock:
            kills = nodedown.down_node(self._state, request.name, request.reason, now=self._clock())
            response = admin_pb2.DownNodeResponse(node=self._node_pb(self._state.nodes.get(request.name)))
        send_kills(self._state, kills)
        self._state.wake_scheduler()
        return response

    def ListPartitions(self, request, context):
        names = set(request.names)
        with self._state.lock:
            all_nodes = [n.name for n in self._state.nodes.all()]
            partitions = sorted(self._state.partitions, key=lambda p: (not p.is_default, p.name))
            return admin_pb2.ListPartitionsResponse(partitions=[
                partition_to_pb(p, [n for n in all_nodes if p.has_node(n)])
                for p in partitions if not names or p.name in names
            ])

    def ListShares(self, request, context):
        accounts = set(request.accounts)
        state = self._state
        with state.lock:
            users = {(j.spec.account or DEFAULT_ACCOUNT, j.user) for j in state.jobs.all()}
            usage = dict(state.usage.by_user)
            rows = share_rows(state.config.fairshare.algorithm, state.fairshare_accounts(), usage, users)
        identity = current_identity()
        if not identity.is_operator:
            own_accounts = {r.account for r in rows if r.user == identity.user}
            if state.config.cluster.is_private("accounts"):   # only the accounts they are in
                rows = [r for r in rows if r.account in own_accounts]
            if state.config.cluster.is_private("usage"):      # only their own usage among users
                rows = [r for r in rows if not r.user or r.user == identity.user]
        return admin_pb2.ListSharesResponse(
            algorithm=state.config.fairshare.algorithm,
            associations=[share_row_to_pb(r) for r in rows if not accounts or r.account in accounts])


    def ListAudit(self, request, context):
        """The audit trail from the store (read without the controller's lock): operators see
        every record, other users their own."""
        identity = current_identity()
        query = audit_query_from_pb(request)
        query = dataclasses.replace(query, limit=min(max(query.limit, 1), MAX_AUDIT_RECORDS))
        if not identity.is_operator:
            if query.user and query.user != identity.user:
                return admin_pb2.ListAuditResponse()
            query = dataclasses.replace(query, user=identity.user)
        return admin_pb2.ListAuditResponse(records=[audit_to_pb(r) for r in self._state.store.list_audit(query)])

    # ---------------------------------------------------------------- accounting (sacctmgr)

    def ListAssociations(self, request, context):
        table = self._state.accounting_table
        where = filter_from_pb(request.filter)
        assocs = sorted((a for a in table.associations.values() if where.matches(a)), key=lambda a: (a.account, a.user))
        identity = current_identity()
        cluster = self._state.config.cluster
        if not identity.is_operator:
            if cluster.is_private("accounts"):   # only the accounts they are in
                own = set(table.user_accounts(identity.user))
                assocs = [a for a in assocs if a.account in own]
            if cluster.is_private("users"):      # only themselves among users
                assocs = [a for a in assocs if not a.is_user or a.user == identity.user]
        levels = self._state.config.admin_levels()
        users = sorted({a.user for a in assocs if a.is_user})
        return admin_pb2.ListAssociationsResponse(
            associations=[association_to_pb(a) for a in assocs],
            effective=[association_to_pb(table.effective(a)) for a in assocs],
            users=[user_to_pb(table.users.get(u) or User(u, ""), levels.get(u, AdminLevel.NONE).label) for u in users])

    def AddAccounts(self, request, context):
        accounts = [association_from_pb(pb) for pb in request.accounts]
        added = self._change("add accounts", lambda t: accounting.add_accounts(t, accounts))
        return admin_pb2.AddAccountsResponse(added=[association_to_pb(a) for a in added])

    def AddUsers(self, request, context):
        assocs = [association_from_pb(pb) for pb in request.associations]
        added = self._change("add users", lambda t: accounting.add_users(t, assocs,
                                                                         default_account=request.default_account))
        return admin_pb2.AddUsersResponse(added=[association_to_pb(a) for a in added])

    def ModifyAssociations(self, request, context):
        where, change = _selective(filter_from_pb(request.filter)), association_change_from_pb(request.change)
        if change.is_empty:
            raise InvalidSetting("nothing to set")
        changed = self._change("modify associations", lambda t: accounting.modify_associations(t, where, change))
        return admin_pb2.ModifyAssociationsResponse(modified=[association_to_pb(a) for a in changed])

    def DeleteAssociations(self, request, context):
        where = _selective(filter_from_pb(request.filter))
        index = self._state.jobs.index

        def in_use(assoc) -> bool:   # (lock held: _change holds it)
            return any(key[0] == assoc.account and (not assoc.is_user or key[1] == assoc.user)
                       for keys in index.active_keys_of_user.values() for key in keys)

        deleted = self._change("delete associations", lambda t: accounting.delete_associations(t, where, in_use=in_use))
        return admin_pb2.DeleteAssociationsResponse(deleted=[association_to_pb(a) for a in deleted])

    def ListQos(self, request, context):
        names = set(request.names)
        table = self._state.accounting_table
        return admin_pb2.ListQosResponse(qos=[qos_to_pb(q) for name, q in sorted(table.qos.items())
                                              if not names or name in names])

    def AddQos(self, request, context):
        qos = [qos_from_pb(pb) for pb in request.qos]
        added = self._change("add QOS", lambda t: accounting.add_qos(t, qos), require=policy.require_administrator)
        return admin_pb2.AddQosResponse(added=[qos_to_pb(q) for q in added])

    def ModifyQos(self, request, context):
        change = qos_change_from_pb(request.change)
        if change.is_empty:
            raise InvalidSetting("nothing to set")
        changed = self._change("modify QOS", lambda t: accounting.modify_qos(t, request.names, change),
                               require=policy.require_administrator)
        return admin_pb2.ModifyQosResponse(modified=[qos_to_pb(q) for q in changed])

    def DeleteQos(self, request, context):
        index = self._state.jobs.index

        partition_qos = {p.qos for p in self._state.config.partitions}

        def in_use(name: str) -> bool:   # (by active jobs, or as a partition's QOS)
            return name in partition_qos or \
                any(qos == name and n for (qos, _), n in index.active_tasks_by_qos_partition.items())

        deleted = self._change("delete QOS", lambda t: accounting.delete_qos(t, request.names, in_use=in_use),
                               require=policy.require_administrator)
        return admin_pb2.DeleteQosResponse(deleted=[qos_to_pb(q) for q in deleted])

    def _change(self, what: str, change, *, require=policy.require_operator):
        """Apply an accounting change: stored, then used from the next cycle. Accounts and users
        are an operator's to change, QOS an administrator's (Slurm's AdminLevel): `require`."""
        require(current_identity(), what)
        state = self._state
        with state.lock:
            changed = state.accounting.change(change)
        log.info("accounting changed what=%s entities=%d", what.replace(" ", "_"), len(changed))
        state.wake_scheduler()
        return changed

    # ---------------------------------------------------------------- reservations (scontrol)

    def ListReservations(self, request, context):
        names = set(request.names)
        identity = current_identity()
        if self._state.config.cluster.is_private("reservations") and not identity.is_operator:
            return admin_pb2.ListReservationsResponse()
        return admin_pb2.ListReservationsResponse(reservations=[
            reservation_to_pb(r) for r in self._state.reservation_list if not names or r.name in names])

    def CreateReservation(self, request, context):
        policy.require_operator(current_identity(), "create reservations")
        reservation = reservation_from_pb(request.reservation)
        with self._state.lock:
            node_count = request.reservation.node_count
            if not node_count and not reservation.node_names and reservation.core_count:
                node_count = len(reservation.cores_per_node) or \
                    nodes_for_cores(self._state, reservation.core_count, reservation.partition)
            if node_count and not reservation.node_names:
                now = self._clock()
                reservation = dataclasses.replace(reservation, node_names=pick_nodes(
                    self._state, node_count, reservation.partition, window=reservation.window(now), now=now))
            created = self._state.reservations.create(self._state, reservation, now=self._clock())
        self._state.wake_scheduler()
        return admin_pb2.CreateReservationResponse(reservation=reservation_to_pb(created))

    def UpdateReservation(self, request, context):
        policy.require_operator(current_identity(), "update reservations")
        new = reservation_from_pb(request.reservation)
        with self._state.lock:
            updated = self._state.reservations.update(self._state, new.name, lambda _: new, now=self._clock())
        self._state.wake_scheduler()
        return admin_pb2.UpdateReservationResponse(reservation=reservation_to_pb(updated))

    def DeleteReservation(self, request, context):
        policy.require_operator(current_identity(), "delete reservations")
        with self._state.lock:
            deleted = self._state.reservations.delete(request.name)
        self._state.wake_scheduler()
        return admin_pb2.DeleteReservationResponse(reservation=reservation_to_pb(deleted))

    def GetDiagnostics(self, request, context):
        state = self._state
        if state.config.cluster.is_private("usage") and not current_identity().is_operator:
            raise PermissionDenied("the controller's statistics are for operators here (PrivateData=usage)")
        with state.lock:
            pending = len(state.jobs.pending())
            running = sum(1 for job in state.jobs.live() if job.state is JobState.RUNNING)
        return diagnostics_to_pb(state.stats.snapshot(jobs_pending=pending, jobs_running=running,
                                                      agent_calls_in_flight=state.agents.in_flight))

    def ResetDiagnostics(self, request, context):
        policy.require_operator(current_identity(), "reset the controller's statistics")
        self._state.stats.reset()
        return admin_pb2.ResetDiagnosticsResponse()

    def GetSettings(self, request, context):
        return admin_pb2.GetSettingsResponse(settings=public_settings(self._state.config))

    def IssueToken(self, request, context):
        identity = current_identity()
        user = request.user or identity.user
        policy.require_token_for(identity, user)
        lifespan_s = request.lifespan_s or self._state.config.auth.api_token_lifetime_s
        if not 1 <= lifespan_s <= defaults.API_TOKEN_MAX_LIFETIME_S:
            raise InvalidLifespan(f"expected 1 to {defaults.API_TOKEN_MAX_LIFETIME_S} seconds")
        try:
            identity_of_user(user)
        except Unauthenticated:
            raise UserNotFound(user) from None
        token, expires = self._state.keys.api_token(user, lifespan_s)
        response = admin_pb2.IssueTokenResponse(token=token)
        time_to_pb(expires, response.expires)
        return response


MAX_AUDIT_RECORDS = 10_000   # records in one ListAudit answer at most


def _selective(where: AssociationFilter) -> AssociationFilter:
    """A filter for a change or deletion must select something by name (sacctmgr refuses
    "No conditions given")."""
    if not (where.accounts or where.users or where.parents):
        raise InvalidSetting("no conditions given: name the accounts or users")
    return where


def _require_operator() -> None:
    policy.require_operator(current_identity(), "change nodes")
