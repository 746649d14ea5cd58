// Draws the flow diagram on /staff/admin/flow with the vendored Mermaid; strict mode: no
// clicks or scripts from the diagram's text.
mermaid.initialize({
  startOnLoad: false,
  securityLevel: "strict",
  theme: "neutral",
  flowchart: { useMaxWidth: false },  // readable text; the box scrolls sideways
});
mermaid.run({ querySelector: "#flow-diagram" });
