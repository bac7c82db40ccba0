"""What the demo's 12345 orders say: a small dispatch catalogue (派单目录) under the codes of
config/hotline.toml, with what complainants typically say under each, and the units an order names.
ILLUSTRATIVE, like the codes: the city's catalogue has hundreds of entries; these are enough for a street.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    levels: tuple[tuple[str, str], ...]  # (code, name), top level first
    contents: tuple[str, ...]
    assisting: str | None = None  # a unit that often helps (协办)


CATALOGUE = (
    Entry(
        (("01", "城市管理"), ("0101", "环境卫生"), ("010101", "垃圾清运")),
        ("小区门口垃圾桶满溢多日无人清运，气味很大", "胡同里有人乱倒建筑垃圾，请尽快清理"),
        "区环卫中心",
    ),
    Entry(
        (("01", "城市管理"), ("0101", "环境卫生"), ("010102", "道路清扫")),
        ("路面落叶和积水长期无人清扫", "早市散场后路边遗留大量垃圾"),
    ),
    Entry(
        (("01", "城市管理"), ("0102", "违法建设")),
        ("楼顶有人私搭乱建，担心安全", "院内邻居私自扩建小房，占用公共通道"),
        "区城管执法局",
    ),
    Entry(
        (("01", "城市管理"), ("0103", "停车管理")),
        ("消防通道长期被私家车占用", "胡同口车辆乱停，救护车进不来"),
        "交通支队",
    ),
    Entry((("01", "城市管理"), ("0104", "地下空间")), ("地下室有人居住，存在安全隐患",)),
    Entry(
        (("02", "住房管理"), ("0201", "群租")),
        ("楼下单元房被隔成多间出租，人员进出复杂", "怀疑隔壁是群租房，夜间吵闹"),
        "派出所",
    ),
    Entry(
        (("02", "住房管理"), ("0202", "房屋设施维修"), ("020201", "楼道照明")),
        ("楼道灯坏了一个多月，老人上下楼不便", "单元门禁损坏，外人随意进出"),
    ),
    Entry(
        (("03", "公共安全"),),
        ("路边井盖松动，夜间有人绊倒", "小区内电动车飞线充电，存在火灾隐患"),
        "消防救援站",
    ),
    Entry(
        (("04", "矛盾纠纷"),),
        ("楼上住户长期噪音扰民，协商无果", "邻居在公共走廊堆放杂物引发纠纷"),
    ),
    Entry(
        (("05", "水电气热"), ("0501", "供暖")),
        ("家中暖气不热，室温不足十六度", "楼内停水一整天，无人通知"),
        "供热公司",
    ),
)

LEAD_UNIT = "西长安街街道办事处"
RETURNED_TO = ("区住建委", "区市场监管局", "区交通委")
# Addresses as a caller gives them that no table can place: they go to the street's unlocated queue.
ADDRESS_UNKNOWN = ("西长安街附近，具体位置不详", "长安街沿线某公交站", "不方便透露，来电人称在辖区内")
