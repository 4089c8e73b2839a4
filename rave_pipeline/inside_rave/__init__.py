"""What runs inside acids-rave's own process: `python -m rave_pipeline.inside_rave.rave_cli` is `rave` with
the project's additions (sox stand-in, kept loader workers, graceful stops, progress lines, timeline
checkpoints, NaN guards in exports). These modules import no other room of rave_pipeline."""
