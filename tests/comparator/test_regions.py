import numpy as np

from siamesekit.comparator.display_scale import DisplayScale
from siamesekit.comparator.regions import Region, find_regions

SCALE = DisplayScale(knee=0.01, top=1.0, label="test", region_floor=0.1)


def test_regions_are_boxes_of_the_areas_above_half_the_peak_strongest_first():
    heatmap = np.zeros((40, 60), np.float32)
    heatmap[5:15, 10:30] = 0.6  # 20 x 10 box, weaker
    heatmap[20:36, 40:48] = 0.3
    heatmap[25, 44] = 0.9
    regions = find_regions(heatmap, SCALE)
    # Half the peak is 0.45: of the 0.3 area only its 0.9 pixel remains (the
    # minimum area, 0.05% of 2400 pixels, rounds to 1 pixel).
    assert regions == [
        Region(x=44, y=25, width=1, height=1, score=np.float32(0.9)),
        Region(x=10, y=5, width=20, height=10, score=np.float32(0.6)),
    ]
    assert isinstance(regions[0].score, float)


def test_no_regions_below_the_floor_or_for_an_all_zero_map():
    assert find_regions(np.zeros((16, 16)), SCALE) == []
    assert find_regions(np.full((16, 16), 0.09), SCALE) == []
    # A uniform map above the floor is one region covering everything.
    assert find_regions(np.full((16, 16), 0.2), SCALE) == [Region(0, 0, 16, 16, 0.2)]


def test_non_finite_values_do_not_make_regions():
    heatmap = np.zeros((16, 16))
    heatmap[3, 3] = np.nan
    heatmap[8:12, 8:12] = 0.5
    assert find_regions(heatmap, SCALE) == [Region(8, 8, 4, 4, 0.5)]


def test_at_most_max_regions():
    heatmap = np.zeros((10, 40))
    for column in range(0, 40, 4):
        heatmap[4, column] = 0.5 + column / 100
    regions = find_regions(heatmap, SCALE, max_regions=3)
    assert [region.x for region in regions] == [36, 32, 28]
