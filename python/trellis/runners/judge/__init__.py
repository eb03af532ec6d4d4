"""LLM-as-judge (`trellis judge`): evaluation templates x judge models over trajectories
or response groups, each score appended as a feedback record with source `judge`."""
