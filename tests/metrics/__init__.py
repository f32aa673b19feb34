"""Tests of the metrics: bounds, verdicts and ground truth from synthetic request timelines."""
