from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..extensions import db
from ..models_base import UTCDateTime, utcnow
from ..tenancy.scoping import TenantScoped


class JobRecord(TenantScoped, db.Model):
    """One background job as staff see it: the source of truth, whatever the queue holds.

    ``key`` makes jobs idempotent: the same (kind, subject, version) is one row; a duplicate while it is
    queued or running is skipped, and a re-run replaces its result.
    """

    __tablename__ = 'job_records'
    QUEUED, RUNNING, DONE, FAILED = 'queued', 'running', 'done', 'failed'
    __table_args__ = (sa.UniqueConstraint('tenant_id', 'key'),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(80))
    key: Mapped[str] = mapped_column(sa.String(200))
    #: the ids the job function is called with (JSON list of ints/strings)
    args: Mapped[list] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(16), default=QUEUED, index=True)
    #: 0-100
    progress: Mapped[int] = mapped_column(default=0)
    #: what the job returned (JSON), e.g. counts shown to staff
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    #: storage key of the file the job produced, served by jobs.download
    result_file: Mapped[str | None] = mapped_column(sa.String(255))
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey('users.id', ondelete='SET NULL'))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: refreshed while the job runs; a running job whose heartbeat stops was interrupted (worker killed)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by: Mapped[User | None] = relationship()

    @property
    def finished(self) -> bool:
        return self.status in (self.DONE, self.FAILED)

    @property
    def title(self) -> str:
        """What staff call this job (the registered title), in their language."""
        from .queue import REGISTRY

        spec = REGISTRY.get(self.kind)
        return str(spec.title) if spec else self.kind

    @property
    def has_file(self) -> bool:
        return self.status == self.DONE and bool(self.result_file)
