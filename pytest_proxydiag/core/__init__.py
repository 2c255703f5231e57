"""Run core: settings with their sources, run state, the step context, flowchart order, the result model, redaction."""
