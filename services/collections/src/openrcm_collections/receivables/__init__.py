"""Insurance A/R: the receivables read model, the follow-up worklist and the A/R reports."""
