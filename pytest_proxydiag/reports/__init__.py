"""Every output: terminal, JSON, HTML, JUnit, facts for IT, comparison, bundle, and the redaction of outputs."""
