"""The ticket workflow drawn as SVG from the django-fsm definition, so it cannot drift."""

from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _

from . import policies
from .models import Ticket, TicketState

# Layout: states on a grid (column, row); everything else is read from the transitions.
POSITIONS = {
    TicketState.NEW: (0, 1),
    TicketState.OPEN: (1, 1),
    TicketState.PENDING_CUSTOMER: (1, 0),
    TicketState.ESCALATED: (1, 2),
    TicketState.RESOLVED: (2, 1),
    TicketState.CLOSED: (3, 1),
}
WHO = {
    policies.can_work_care: "care agents of the team, leads",
    policies.can_lead_care: "team leads",
    policies.can_work_department: "members of the holding department",
    policies.system_only: "the system (customer wrote)",
}
BOX_W, BOX_H, COL_W, ROW_H, PAD = 150, 44, 230, 150, 40


@dataclass
class Edge:
    name: str
    label: str
    source: str
    target: str
    who: str


def workflow_edges() -> list[Edge]:
    field = Ticket._meta.get_field("state")
    edges = []
    for t in field.get_all_transitions(Ticket):
        target = t.target if t.target is not None else t.source
        edges.append(
            Edge(t.name, str(t.custom.get("label", t.name)), t.source, target,
                 WHO.get(t.permission, "")),
        )
    return edges


def workflow_rows() -> list[dict]:
    rows: dict[str, dict] = {}
    labels = dict(TicketState.choices)
    for e in workflow_edges():
        row = rows.setdefault(
            e.name,
            {"label": e.label, "sources": [], "target": str(labels[e.target]), "who": _(e.who)},
        )
        row["sources"].append(str(labels[e.source]))
        if e.target != e.source or e.name in ("transfer",):
            row["target"] = str(labels[e.target])
        else:
            row["target"] = _("(same state)")
    return list(rows.values())


def _center(state):
    col, row = POSITIONS[state]
    return PAD + col * COL_W + BOX_W / 2, PAD + row * ROW_H + BOX_H / 2


def workflow_svg() -> str:
    labels = dict(TicketState.choices)
    width = PAD * 2 + 3 * COL_W + BOX_W
    height = PAD * 2 + 2 * ROW_H + BOX_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" '
        'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#475569"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    # Group parallel edges between the same pair so their labels do not overlap.
    pairs: dict[tuple, list[Edge]] = {}
    self_loops: dict[str, list[Edge]] = {}
    for e in workflow_edges():
        if e.source == e.target:
            self_loops.setdefault(e.source, []).append(e)
        else:
            pairs.setdefault((e.source, e.target), []).append(e)
    for (src, dst), edges in pairs.items():
        x1, y1 = _center(src)
        x2, y2 = _center(dst)
        reverse = (dst, src) in pairs
        dx, dy = x2 - x1, y2 - y1
        length = max((dx * dx + dy * dy) ** 0.5, 1)
        nx, ny = -dy / length, dx / length
        offset = 10 if reverse else 0
        # Shorten the line to the box edges: scale by whichever side the line leaves through.
        if abs(dx) * BOX_H > abs(dy) * BOX_W:
            scale = (BOX_W / 2 + 4) / max(abs(dx), 1e-6)
        else:
            scale = (BOX_H / 2 + 4) / max(abs(dy), 1e-6)
        sx, sy = x1 + dx * scale, y1 + dy * scale
        ex, ey = x2 - (sx - x1), y2 - (sy - y1)
        sx, sy, ex, ey = sx + nx * offset, sy + ny * offset, ex + nx * offset, ey + ny * offset
        out.append(
            f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" stroke="#475569" '
            f'stroke-width="1.4" marker-end="url(#arrow)"/>'
        )
        label = " / ".join(escape(e.label) for e in edges)
        lx, ly = (sx + ex) / 2 + nx * 14, (sy + ey) / 2 + ny * 14
        out.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="#0f172a" '
            f'paint-order="stroke" stroke="#fff" stroke-width="4">{label}</text>'
        )
    for state, edges in self_loops.items():
        cx, cy = _center(state)
        top = cy - BOX_H / 2 if POSITIONS[state][1] < 2 else cy + BOX_H / 2
        sign = -1 if POSITIONS[state][1] < 2 else 1
        if POSITIONS[state][1] == 1:
            top, sign = cy + BOX_H / 2, 1
        out.append(
            f'<path d="M{cx - 30:.1f},{top:.1f} C{cx - 40:.1f},{top + sign * 45:.1f} '
            f'{cx + 40:.1f},{top + sign * 45:.1f} {cx + 30:.1f},{top:.1f}" fill="none" '
            f'stroke="#94a3b8" stroke-width="1.2" marker-end="url(#arrow)"/>'
        )
        label = " / ".join(escape(e.label) for e in edges)
        out.append(
            f'<text x="{cx:.1f}" y="{top + sign * 48:.1f}" text-anchor="middle" fill="#334155" '
            f'font-size="11" paint-order="stroke" stroke="#fff" stroke-width="4">{label}</text>'
        )
    colours = {
        TicketState.NEW: "#e0f2fe", TicketState.OPEN: "#dcfce7",
        TicketState.PENDING_CUSTOMER: "#fef9c3", TicketState.ESCALATED: "#fee2e2",
        TicketState.RESOLVED: "#ede9fe", TicketState.CLOSED: "#e2e8f0",
    }
    for state in POSITIONS:
        cx, cy = _center(state)
        out.append(
            f'<rect x="{cx - BOX_W / 2:.1f}" y="{cy - BOX_H / 2:.1f}" width="{BOX_W}" height="{BOX_H}" '
            f'rx="8" fill="{colours[state]}" stroke="#334155" stroke-width="1.2"/>'
        )
        out.append(
            f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle" font-weight="bold" '
            f'fill="#0f172a">{escape(str(labels[state]))}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)
