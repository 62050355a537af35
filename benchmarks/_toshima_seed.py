"""Toshima City's call center as its tender describes it (``../shared/seeds/toshima-callcenter.txt``).

The figures are the seed's own (別紙1「現行業務量」, fiscal 2021 = 令和3年度, 2021-04-01 to
2022-03-31): the calls of every day (202,685 in the year), the calls per weekday, and the calls per
hour of two days the tender prints (2021-04-01, a Thursday, and 2021-06-14, a Monday). Staffed hours
are 8:00-19:00 every day of the year (表2-1); outside them the IVR answers. ``tests/test_bench_analytics.py``
checks these numbers against the seed file.
"""

from __future__ import annotations

from datetime import date, timedelta

FISCAL_2021_START = date(2021, 4, 1)

# Calls per day, 令和3年4月 .. 令和4年3月 (one line per month, the seed's order).
DAILY_2021: tuple[tuple[int, ...], ...] = (
    (731, 737, 151, 101, 869, 735, 685, 704, 685, 129, 97, 876, 782, 713, 715, 716, 130, 83, 851, 767, 759, 675, 707,
     182, 97, 888, 726, 699, 132, 968),
    (166, 107, 106, 93, 74, 912, 953, 202, 108, 1068, 991, 869, 790, 870, 181, 75, 1025, 768, 671, 723, 704, 141, 80,
     875, 699, 789, 640, 769, 131, 60, 926),
    (716, 710, 706, 710, 117, 76, 815, 680, 621, 768, 956, 200, 111, 1242, 1031, 1008, 959, 938, 214, 88, 1148, 908,
     739, 802, 783, 178, 88, 1032, 776, 847),
    (710, 741, 216, 111, 986, 742, 772, 686, 716, 155, 78, 786, 715, 708, 754, 686, 158, 92, 846, 729, 756, 258, 157,
     153, 87, 999, 716, 656, 647, 793, 194),
    (185, 1019, 700, 707, 676, 741, 150, 112, 222, 908, 776, 808, 628, 127, 67, 838, 735, 708, 665, 697, 168, 75, 845,
     754, 764, 712, 717, 164, 79, 830, 702),
    (747, 682, 662, 134, 62, 828, 657, 640, 608, 655, 137, 89, 847, 705, 700, 692, 774, 155, 68, 114, 879, 745, 147,
     797, 175, 63, 891, 738, 694, 734),
    (663, 165, 68, 905, 758, 746, 688, 697, 131, 90, 818, 809, 670, 652, 736, 130, 47, 789, 736, 737, 744, 665, 157,
     69, 763, 682, 629, 668, 746, 172, 92),
    (785, 679, 132, 764, 695, 130, 73, 819, 674, 715, 709, 728, 141, 95, 805, 680, 627, 651, 609, 136, 52, 847, 164,
     736, 714, 718, 137, 71, 789, 698),
    (677, 672, 662, 139, 64, 769, 655, 563, 587, 598, 102, 81, 788, 632, 669, 621, 642, 131, 77, 784, 639, 633, 612,
     628, 166, 75, 771, 605, 260, 146, 49),
    (31, 28, 75, 680, 597, 616, 655, 168, 89, 119, 909, 879, 805, 803, 159, 67, 899, 709, 719, 714, 876, 168, 100, 944,
     750, 716, 673, 814, 208, 98, 1029),
    (859, 723, 709, 784, 183, 87, 1171, 1063, 908, 735, 241, 192, 88, 1194, 949, 819, 820, 765, 177, 88, 1027, 858,
     183, 887, 937, 189, 95, 1104),
    (895, 785, 715, 781, 156, 100, 1028, 794, 792, 817, 861, 182, 112, 1033, 855, 735, 675, 679, 148, 78, 131, 870,
     760, 701, 760, 167, 102, 891, 750, 692, 692),
)
YEAR_2021_TOTAL = 202_685

# Calls per weekday, Monday first (２．曜日別着信件数, 令和3年度).
WEEKDAYS_2021 = (42_849, 38_704, 35_659, 35_823, 37_052, 8_173, 4_425)

# Calls per staffed hour, 8:00-9:00 .. 18:00-19:00 (３．時間帯別受付件数).
HOURS_2021_04_01 = (29, 77, 92, 93, 63, 62, 81, 86, 82, 27, 5)
HOURS_2021_06_14 = (62, 165, 167, 142, 90, 111, 147, 127, 122, 26, 6)
STAFFED_FROM, STAFFED_TO = 8, 19

# The center's numbers (区代表番号 and the COVID-19 line, 2,202 calls in 令和3年度).
MAIN_DID = "0339811111"
COVID_DID = "0345662466"
COVID_SHARE = 2_202 / (YEAR_2021_TOTAL + 2_202)
CHANNELS = 40  # 電話回線数（チャネル数 40 以上）


def daily_2021() -> dict[date, int]:
    """Every day of fiscal 2021 with its calls."""
    days: dict[date, int] = {}
    day = FISCAL_2021_START
    for month in DAILY_2021:
        for calls in month:
            days[day] = calls
            day += timedelta(days=1)
    return days


def hourly_shape() -> tuple[float, ...]:
    """Share of a day's staffed-hours calls in each hour 8..18 (the mean of the two printed days)."""
    a, b = sum(HOURS_2021_04_01), sum(HOURS_2021_06_14)
    shares = [(x / a + y / b) / 2 for x, y in zip(HOURS_2021_04_01, HOURS_2021_06_14, strict=True)]
    return tuple(shares)
