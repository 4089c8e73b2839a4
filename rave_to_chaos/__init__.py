"""rave-to-chaos: trained (RAVE) and hand-written (chaos_models) neural instruments, side by side."""
