"""The RAVE commands and what they share: the settings (options), the recipes, runs and their lock,
checkpoints, train, export, submit (Slurm) and the gin check of OVERRIDEs."""
