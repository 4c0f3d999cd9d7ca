"""Layer 4: figures (plots), the self-contained HTML sweep report (html) and its wording (summary)."""
