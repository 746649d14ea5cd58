"""GET /staff/admin/flow: the conversation drawn for admins, with each state's texts."""

from __future__ import annotations

from flask import g, render_template

from ...flow.graph import build, node_id, to_mermaid
from .admin import admin_required
from .views import CSP, bp, services

# Mermaid writes the drawing's styles into the SVG it makes: this page alone allows inline
# styles. It shows the flow's own words, nothing about a person, and still runs only our scripts.
FLOW_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class Placeholders(dict[str, str]):
    """The flow's own values ({admissions}); what comes from a conversation stays a name."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@bp.get("/admin/flow")
@admin_required
def flow_chart() -> str:
    """Admins only: the diagram (Mermaid, drawn in the browser) and every state's texts."""
    flow = services().flow
    spec = flow.spec
    states = []
    for state_id, state in spec.states.items():
        texts = {
            channel: {
                language: text.format_map(Placeholders(flow.params)).strip()
                for language, text in by_language.items()
            }
            for channel, by_language in state.prompt.items()
        }
        states.append({"id": state_id, "node": node_id(state_id), "texts": texts})
    g.csp = FLOW_CSP
    return render_template(
        "staff/flow.html",
        mermaid=to_mermaid(build(spec)),
        states=states,
        languages=spec.languages,
    )
