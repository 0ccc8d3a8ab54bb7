"""The controller's settings that users may read (AdminService.GetSettings: `scontrol show
config`), by jem.toml's names, as text. Only scheduling, priority, fair-share, accounting,
privacy and job mail settings: nothing about keys, addresses or the webhook, and no path but the
mail program's (Slurm shows every user its MailProg)."""

from jem.controller.mail import mail_program
from jem.model.config import Config


def public_settings(config: Config) -> dict[str, str]:
    scheduler, priority = config.scheduler, config.priority
    values = {
        "cluster.name": config.cluster.name,
        "cluster.private_data": ",".join(config.cluster.private_data),
        "cluster.requeue_on_node_failure": config.cluster.requeue_on_node_failure,
        "scheduler.policy": scheduler.policy,
        "scheduler.interval_s": scheduler.interval_s,
        "scheduler.kill_wait_s": scheduler.kill_wait_s,
        "scheduler.min_job_age_s": scheduler.min_job_age_s,
        "scheduler.max_job_count": scheduler.max_job_count,
        "scheduler.max_array_size": scheduler.max_array_size,
        "scheduler.reservation_depth": scheduler.reservation_depth,
        "scheduler.node_timeout_s": scheduler.node_timeout_s,
        "scheduler.kill_invalid_depend": scheduler.kill_invalid_depend,
        "scheduler.preempt_type": scheduler.preempt_type,
        "scheduler.preempt_mode": scheduler.preempt_mode,
        "scheduler.preempt_exempt_time": scheduler.preempt_exempt_time,
        "priority.weight_age": priority.weight_age,
        "priority.weight_fairshare": priority.weight_fairshare,
        "priority.weight_job_size": priority.weight_job_size,
        "priority.weight_partition": priority.weight_partition,
        "priority.weight_qos": priority.weight_qos,
        "priority.max_age_s": priority.max_age_s,
        "fairshare.algorithm": config.fairshare.algorithm,
        "fairshare.half_life_s": config.fairshare.half_life_s,
        "accounting.enforce": ",".join(config.accounting.enforce),
        "mail.program": mail_program(config.mail),   # (Slurm shows every user its MailProg and MailDomain)
        "mail.domain": config.mail.domain,
    }
    return {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in values.items()}
