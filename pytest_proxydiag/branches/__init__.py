"""One module per flowchart branch: what the evidence means."""
