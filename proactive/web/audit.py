"""The audit-trail status page (``/audit``): every chain in the store, verified now.

It runs the same check as ``proactive audit verify --store``: :func:`proactive.audit.verify`
reads each chain (``main`` of an embedded run, one per Kafka partition, ``review``,
``erasure``) in order and checks it link by link with
:func:`proactive.decisions.verify_chain`, then the chain heads and what each erasure
vouches for. The page shows each chain as OK with its number of records, or its first
broken link: which record, and what is wrong with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from proactive.audit import AuditReport, ChainStatus, Finding, verify
from proactive.store import ContextStore
from proactive.web.accounts import Session
from proactive.web.security import require
from proactive.web.state import render, web_state

router = APIRouter()


@dataclass(frozen=True)
class ChainRow:
    """One chain on the page: its status and its first problem, if any."""

    status: ChainStatus
    finding: Finding | None


def chain_rows(report: AuditReport) -> list[ChainRow]:
    """The report per chain, with the first finding that concerns each."""
    rows = []
    for c in report.chains:
        mine = (f for f in report.findings if f.source == c.source and f.chain == c.chain)
        rows.append(ChainRow(c, next(mine, None)))
    return rows


def verify_store(store: ContextStore) -> AuditReport:
    """Every chain of the store verified (the store only; the page has no run folder)."""
    return verify(store)


@router.get("/audit")
async def audit_page(
    request: Request, session: Annotated[Session, Depends(require("audit.verify"))]
) -> Response:
    """Verify every chain now and show the result."""
    web = web_state(request)
    started = time.perf_counter()
    report = await run_in_threadpool(verify_store, web.store)
    return render(
        request,
        "audit.html.j2",
        session,
        title="Audit trail",
        rows=chain_rows(report),
        findings=report.findings,
        ok=report.ok,
        records=sum(c.records for c in report.chains),
        seconds=time.perf_counter() - started,
        checked_at=web.clock(),
        nav="audit",
    )
