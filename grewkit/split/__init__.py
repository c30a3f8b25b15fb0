"""Protocol splits (GREW): train / val / test (probe, gallery) / distractor, and the checks that prove them leak-free."""
