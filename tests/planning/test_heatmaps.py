"""The maps' colour classes: zeros and missing values keep colours of their own."""

from planning.heatmaps import classes_for


def test_colour_classes_handle_zeros_and_missing_values():
    only_zero = classes_for([0, 0, None])
    assert only_zero.colour(0) == only_zero.legend()[0][0]
    classes = classes_for([0, 5, 10, None])
    assert classes.colour(None) != classes.colour(10) != classes.colour(0)
    assert classes.colour(10) == classes.colour(9.99) or classes.edges[-1] == 10
