"""The merchant's assortment and warehouses, priced in fen so every amount downstream stays an exact integer.

Popularity is skewed on purpose: a few cheap staples dominate real order books, and that skew is what
makes basket totals straddle the free-shipping threshold the way they do in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    title: str
    title_en: str  # Amazon listings are in English; the domestic platforms show the Chinese title.
    price: int  # fen
    popularity: int  # relative weight of being picked for a basket line


# Titles keep the full-width brackets and multiplication signs of real Chinese listings, hence the RUF001 waivers.
CATALOG: Final[tuple[Product, ...]] = (
    Product("SKU-TEA-001", "明前龙井 250g", "Pre-Qingming West Lake Longjing Green Tea 250g", 26800, 6),
    Product("SKU-TEA-002", "安溪铁观音 浓香型 500g", "Anxi Tieguanyin Oolong Tea, Roasted, 500g", 15800, 5),
    Product("SKU-TEA-003", "云南普洱熟茶 357g 茶饼", "Yunnan Ripe Pu-erh Tea Cake 357g", 12900, 4),
    Product("SKU-TEA-004", "武夷山大红袍 礼盒装 250g", "Wuyi Da Hong Pao Rock Tea Gift Box 250g", 39900, 2),
    Product("SKU-TEA-005", "福鼎白茶 白牡丹 100g", "Fuding White Peony Tea 100g", 8800, 5),
    Product("SKU-SNK-001", "每日坚果 混合果仁 750g（30袋）", "Daily Mixed Nuts 750g (30 Packs)", 11900, 10),
    Product("SKU-SNK-002", "内蒙古手撕风干牛肉干 500g", "Inner Mongolian Air-Dried Beef Jerky 500g", 8990, 7),
    Product("SKU-SNK-003", "柳州螺蛳粉 原味 5袋装", "Liuzhou River Snail Rice Noodles, 5 Packs", 3990, 14),
    Product("SKU-SNK-004", "自热小火锅 麻辣牛肉 3盒", "Self-Heating Spicy Beef Hot Pot, 3 Boxes", 4590, 9),
    Product("SKU-SNK-005", "新疆和田大枣 特级 1kg", "Xinjiang Hetian Jujube Dates, Premium, 1kg", 5980, 6),
    Product("SKU-SNK-006", "五常稻花香大米 5kg", "Wuchang Daohuaxiang Rice 5kg", 6990, 8),
    Product("SKU-SNK-007", "经典大面筋辣条 20包", "Spicy Gluten Strips, 20 Packs", 990, 16),
    Product("SKU-FRT-001", "海南贵妃芒 净重5斤", "Hainan Guifei Mango, 2.5kg Net", 4990, 9),
    Product("SKU-FRT-002", "赣南脐橙 当季鲜果 10斤", "Gannan Navel Oranges, In Season, 5kg", 5990, 8),
    Product("SKU-FRT-003", "阳澄湖大闸蟹 提货券 8只装", "Yangcheng Lake Hairy Crab Voucher, 8 Crabs", 59900, 1),
    Product("SKU-BTY-001", "玻尿酸补水面膜 30片", "Hyaluronic Acid Hydrating Sheet Masks, 30 pcs", 9900, 10),
    Product("SKU-BTY-002", "氨基酸洁面乳 120g", "Amino Acid Facial Cleanser 120g", 5900, 9),
    Product("SKU-BTY-003", "烟酰胺亮肤精华液 30ml", "Niacinamide Brightening Serum 30ml", 19900, 5),
    Product("SKU-BTY-004", "丝绒哑光口红 #999", "Velvet Matte Lipstick #999", 16900, 5),
    Product("SKU-BTY-005", "清爽防晒乳 SPF50+ PA++++ 50ml", "Lightweight Sunscreen SPF50+ PA++++ 50ml", 12800, 6),
    Product("SKU-APP-001", "纯棉圆领短袖T恤 男款 白色 L", "Men's Cotton Crew-Neck T-Shirt, White, L", 5900, 9),
    Product("SKU-APP-002", "高腰阔腿牛仔裤 女款 27码", "Women's High-Waist Wide-Leg Jeans, 27", 15900, 5),
    Product("SKU-APP-003", "轻薄羽绒服 90白鸭绒 M", "Lightweight Down Jacket, 90% White Duck Down, M", 39900, 3),
    Product("SKU-APP-004", "冰丝防晒衣 UPF50+", "Ice Silk Sun Protection Jacket UPF50+", 8900, 7),
    Product("SKU-APP-005", "中筒运动袜 5双装", "Mid-Calf Athletic Socks, 5 Pairs", 2990, 12),
    Product("SKU-HOM-001", "泰国天然乳胶枕", "Thai Natural Latex Pillow", 19900, 4),
    Product("SKU-HOM-002", "全棉磨毛四件套 1.8m床", "Brushed Cotton 4-Piece Bedding Set, 1.8m Bed", 29900, 3),
    Product("SKU-HOM-003", "原木抽纸 3层 24包", "Virgin Wood Pulp Facial Tissues, 3-Ply, 24 Packs", 3990, 15),
    Product("SKU-HOM-004", "洗衣凝珠 50颗", "Laundry Detergent Pods, 50 ct", 4990, 10),
    Product("SKU-HOM-005", "316不锈钢保温杯 500ml", "316 Stainless Steel Vacuum Flask 500ml", 7900, 7),
    Product("SKU-HOM-006", "可视空气炸锅 5L", "5L Air Fryer with Viewing Window", 29900, 3),
    Product("SKU-ELC-001", "主动降噪真无线蓝牙耳机", "Active Noise-Cancelling True Wireless Earbuds", 39900, 4),
    Product("SKU-ELC-002", "20000mAh 充电宝 22.5W快充", "20000mAh Power Bank, 22.5W Fast Charging", 12900, 6),
    Product("SKU-ELC-003", "65W 氮化镓充电器 三口", "65W GaN Charger, 3 Ports", 9900, 6),
    Product("SKU-ELC-004", "智能运动手表 心率血氧监测", "Smart Sports Watch with Heart Rate and SpO2", 69900, 2),
    Product("SKU-ELC-005", "激光导航扫地机器人", "Robot Vacuum with LiDAR Navigation", 129900, 1),
    Product("SKU-ELC-006", "磁吸透明手机壳", "Clear Magnetic Phone Case", 1990, 12),
    Product("SKU-BBY-001", "婴儿纸尿裤 L码 52片", "Baby Diapers, Size L, 52 ct", 11900, 7),
    Product("SKU-BBY-002", "婴儿手口湿巾 80抽×6包", "Baby Hand and Mouth Wipes, 80 Sheets x 6", 3990, 10),
    Product("SKU-PET-001", "全价成猫猫粮 2kg", "Complete Dry Food for Adult Cats 2kg", 8900, 7),
    Product("SKU-PET-002", "豆腐猫砂 6L×4袋", "Tofu Cat Litter, 6L x 4 Bags", 6990, 8),
)

WAREHOUSES: Final[tuple[str, ...]] = ("WH-SH-01", "WH-GZ-02", "WH-CD-03")
# Shanghai serves the east coast, where most of the volume is; Chengdu is the small western overflow site.
WAREHOUSE_WEIGHTS: Final[tuple[int, ...]] = (50, 32, 18)
