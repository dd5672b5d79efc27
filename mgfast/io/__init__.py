"""Reading and writing mgfast data: videos, annotations, pose files and the dataset directory."""
