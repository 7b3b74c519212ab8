"""Strategic and tactical reports (DESIGN section 5b): sections, judgements, rendering and
dissemination."""
