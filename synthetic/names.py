"""Word material for synthetic companies and people: brands, industries, places, legal forms, names.

Pure data plus the few derived tables (traditional-script forms, brand lists) built once at
import. Places carry everything that differs by country: scripts, how each system spells the
country, phone plan (area code, subscriber length, valid leading digits), tax-id kind, currency.
Phone plans were checked with ``phonenumbers`` so generated numbers are valid where intended.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words: long vocabularies stay readable as one string each."""
    return tuple(text.split())


# -- brands ---------------------------------------------------------------------------------
# One character per pinyin syllable, every syllable starting with a consonant: two-character
# brands then romanise to distinct strings (华腾 "Huateng" cannot be read as another pair).
_CN_BRAND_CHARS = _words(
    "百bai 邦bang 宝bao 贝bei 本ben 彬bin 博bo 灿can 诚cheng 创chuang 春chun 聪cong 达da 道dao 德de 鼎ding "
    "东dong 多duo 帆fan 方fang 飞fei 丰feng 福fu 港gang 高gao 格ge 耕geng 冠guan 光guang 贵gui 国guo 海hai "
    "瀚han 航hang 浩hao 和he 恒heng 宏hong 华hua 环huan 辉hui 吉ji 嘉jia 建jian 江jiang 杰jie 金jin 晶jing "
    "久jiu 聚ju 骏jun 凯kai 康kang 科ke 坤kun 蓝lan 朗lang 乐le 雷lei 利li 联lian 亮liang 林lin 凌ling 隆long "
    "路lu 伦lun 洛luo 迈mai 满man 茂mao 美mei 盟meng 敏min 明ming 沐mu 纳na 楠nan 能neng 宁ning 诺nuo 派pai "
    "攀pan 鹏peng 品pin 平ping 普pu 启qi 乾qian 强qiang 桥qiao 勤qin 清qing 秋qiu 全quan 荣rong 瑞rui 润run "
    "森sen 山shan 尚shang 深shen 盛sheng 世shi 舒shu 顺shun 思si 松song 泰tai 坦tan 涛tao 腾teng 天tian 通tong "
    "拓tuo 万wan 旺wang 伟wei 文wen 祥xiang 骁xiao 鑫xin 星xing 旭xu 轩xuan 雅ya 扬yang 耀yao 烨ye 亿yi 银yin "
    "盈ying 永yong 优you 宇yu 远yuan 悦yue 云yun 泽ze 展zhan 兆zhao 哲zhe 振zhen 正zheng 智zhi 中zhong 舟zhou "
    "筑zhu 卓zhuo 梓zi"
)
CN_CHARS: tuple[str, ...] = tuple(w[0] for w in _CN_BRAND_CHARS)
CN_PINYIN: tuple[str, ...] = tuple(w[1:] for w in _CN_BRAND_CHARS)

_LATIN_HEADS = _words(
    "Al Am An Ar As Ax Bel Ben Bra Bri Cal Cam Car Cel Cor Cre Dal Dan Del Dor Dra Ed El Em En Ev Fal Fen Fer "
    "Fil Fla Gal Gar Gen Gil Gra Hal Har Hel Hol Il In Is Jor Kal Kel Ken Kor Lan Lar Lev Lin Lor Lum Mal Mar "
    "Med Mer Mil Mon Mor Nav Nel Nor Nov Oak Ol Om Or Pal Par Pen Per Pol Pra Pri Qua Ral Ran Red Rel Rho Riv "
    "Ros Sal San Sel Sil Sol Sta Ster Sum Syl Tal Tar Tel Ter Tor Tra Tri Ul Val Van Vel Ver Vin Vol Wel Wes "
    "Wil Win Xan Yar Zan Zel Zen Zor"
)
# Middle syllables make more brands, so a brand and industry name one company per country
# (Western company names then need no city to be unique).
_LATIN_MIDS = ("a", "e", "i", "o", "en", "ar", "el")
_LATIN_TAILS = _words(
    "ac ada ado aire ana ant ara ard aris ary ava ax ay bar bury by cor cott crest dale den ria dor dell "
    "ell ena ent era ere ern esta eth ex field ford gate gen hart haven ian ica ico ida ify ina ine ion ira "
    "is ium ix ley lin lo lux mark mere mont more na nex nia nor ock on ona ora orth ova ox pex point quest "
    "ra ris ron rook sen side son stone ta tech ter tex ton tra trix us vale van via vio wick win wood worth "
    "yn ys za zon"
)

# -- industries -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Industry:
    zh: str
    en: str
    sf: str
    """Salesforce Industry picklist value."""
    code: str
    """Short form used in web domains."""


INDUSTRIES: tuple[Industry, ...] = tuple(Industry(*row) for row in (
    ("科技", "Technology", "Technology", "tech"),
    ("贸易", "Trading", "Retail", "trading"),
    ("物流", "Logistics", "Transportation", "logistics"),
    ("电子", "Electronics", "Electronics", "elec"),
    ("医药", "Pharmaceutical", "Healthcare", "pharma"),
    ("机械", "Machinery", "Machinery", "mach"),
    ("食品", "Food", "Food & Beverage", "food"),
    ("建材", "Building Materials", "Construction", "bm"),
    ("化工", "Chemical", "Chemicals", "chem"),
    ("软件", "Software", "Technology", "soft"),
    ("信息技术", "Information Technology", "Technology", "it"),
    ("实业", "Industrial", "Manufacturing", "ind"),
    ("新能源", "New Energy", "Energy", "energy"),
    ("生物科技", "Biotechnology", "Biotechnology", "bio"),
    ("服饰", "Apparel", "Apparel", "apparel"),
    ("汽车配件", "Auto Parts", "Manufacturing", "auto"),
    ("包装", "Packaging", "Manufacturing", "pack"),
    ("家具", "Furniture", "Consumer Goods", "furniture"),
    ("印刷", "Printing", "Media", "print"),
    ("环保", "Environmental", "Environmental", "eco"),
    ("传媒", "Media", "Media", "media"),
    ("咨询", "Consulting", "Consulting", "consult"),
    ("建筑工程", "Construction Engineering", "Construction", "build"),
    ("光电", "Optoelectronics", "Electronics", "opto"),
    ("五金", "Hardware", "Manufacturing", "hw"),
    ("纺织", "Textile", "Apparel", "textile"),
    ("医疗器械", "Medical Devices", "Healthcare", "med"),
    ("农业", "Agriculture", "Agriculture", "agri"),
    ("教育科技", "Education Technology", "Education", "edu"),
    ("供应链管理", "Supply Chain Management", "Transportation", "scm"),
))

# -- legal forms ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegalForm:
    zh: str | None
    """Chinese legal form (simplified), None outside Chinese-speaking places."""
    en: str
    """How the registered English name ends."""
    variants: tuple[str, ...]
    """Other ways people type the English form; "" = left out."""


_CO_LTD_VARIANTS = ("Co., Ltd.", "Co.,Ltd.", "CO., LTD.", "Co. Ltd", "Co Ltd", "Company Limited", "Ltd.", "Limited", "")
LEGAL_CN = (
    LegalForm("有限公司", "Co., Ltd.", _CO_LTD_VARIANTS),
    LegalForm("有限公司", "Co., Ltd.", _CO_LTD_VARIANTS),
    LegalForm("股份有限公司", "Co., Ltd.", (*_CO_LTD_VARIANTS, "Corporation", "Corp.")),
    LegalForm("有限责任公司", "Co., Ltd.", (*_CO_LTD_VARIANTS, "LLC")),
    LegalForm("集团有限公司", "Group Co., Ltd.", ("Group Co., Ltd.", "Group Co.,Ltd", "Group Ltd.", "Group", "")),
)
LEGAL_TW = (
    LegalForm("股份有限公司", "Co., Ltd.", ("Co., Ltd.", "Corp.", "Corporation", "Inc.", "CO., LTD.", "")),
    LegalForm("有限公司", "Co., Ltd.", ("Co., Ltd.", "Ltd.", "Co. Ltd", "")),
)
LEGAL_HK = (
    LegalForm("有限公司", "Limited", ("Limited", "Ltd.", "Ltd", "Company Limited", "LIMITED", "")),
    LegalForm("集团有限公司", "Group Limited", ("Group Limited", "Group Ltd.", "Group", "")),
)
LEGAL_BY_COUNTRY: dict[str, tuple[LegalForm, ...]] = {
    "GB": (LegalForm(None, "Ltd", ("Ltd", "Limited", "Ltd.", "LTD", "")),
           LegalForm(None, "Limited", ("Limited", "Ltd", "Ltd.", "")),
           LegalForm(None, "PLC", ("PLC", "plc", "P.L.C.", ""))),
    "DE": (LegalForm(None, "GmbH", ("GmbH", "GMBH", "Gmbh", "")),
           LegalForm(None, "AG", ("AG", "")),
           LegalForm(None, "GmbH & Co. KG", ("GmbH & Co. KG", "GmbH & Co KG", "GmbH", ""))),
    "FR": (LegalForm(None, "SAS", ("SAS", "S.A.S.", "")), LegalForm(None, "SA", ("SA", "S.A.", "")),
           LegalForm(None, "SARL", ("SARL", "S.A.R.L.", "Sarl", ""))),
    "NL": (LegalForm(None, "B.V.", ("B.V.", "BV", "B.V", "")), LegalForm(None, "N.V.", ("N.V.", "NV", ""))),
    "US": (LegalForm(None, "Inc.", ("Inc.", "Inc", "Incorporated", "INC", "")),
           LegalForm(None, "LLC", ("LLC", "L.L.C.", "Llc", "")),
           LegalForm(None, "Corporation", ("Corporation", "Corp.", "Corp", ""))),
    "CA": (LegalForm(None, "Inc.", ("Inc.", "Inc", "")), LegalForm(None, "Ltd.", ("Ltd.", "Limited", "Ltd", ""))),
    "SG": (LegalForm(None, "Pte. Ltd.", ("Pte. Ltd.", "Pte Ltd", "PTE. LTD.", "Private Limited", "")),),
    "JP": (LegalForm(None, "Co., Ltd.", ("Co., Ltd.", "Co.,Ltd.", "K.K.", "Kabushiki Kaisha", "")),
           LegalForm(None, "Corporation", ("Corporation", "Corp.", ""))),
    "AU": (LegalForm(None, "Pty Ltd", ("Pty Ltd", "Pty. Ltd.", "PTY LTD", "Pty Limited", "")),),
}

# -- places ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    country: str
    """ISO 3166-1 alpha-2."""
    script: str
    """'hans' (simplified Chinese), 'hant' (traditional Chinese) or 'latin'."""
    city_en: str
    city_zh: str | None
    abbr: str
    """City abbreviation for web domains ('' for a country's first place: no suffix)."""
    region_code: str
    """USCC administrative division code (CN), or '' elsewhere."""
    calling_code: str
    area: str
    """Area code without the trunk prefix ('' where there is none)."""
    leads: tuple[str, ...]
    """Subscriber-number prefixes that phonenumbers accepts as valid for this area."""
    length: int
    """Subscriber-number length."""
    postal: str
    """Postal-code template: '#' is a random digit, other characters stay."""
    utc_offset: int
    """Hours ahead of UTC, so generated activity happens in local business hours."""


_CN = "CN"
PLACES: tuple[Place, ...] = tuple(Place(*row) for row in (
    # mainland China: (country, script, city, 城市, abbr, USCC region, +cc, area, leads, length, postal, utc)
    (_CN, "hans", "Beijing", "北京", "", "110105", "86", "10", ("5", "6", "8"), 8, "1000##", 8),
    (_CN, "hans", "Shanghai", "上海", "sh", "310115", "86", "21", ("5", "6", "3"), 8, "2001##", 8),
    (_CN, "hans", "Guangzhou", "广州", "gz", "440106", "86", "20", ("3", "8", "6"), 8, "5106##", 8),
    (_CN, "hans", "Shenzhen", "深圳", "sz", "440305", "86", "755", ("2", "8", "6"), 8, "5180##", 8),
    (_CN, "hans", "Hangzhou", "杭州", "hz", "330106", "86", "571", ("8", "5", "2"), 8, "3100##", 8),
    (_CN, "hans", "Nanjing", "南京", "nj", "320105", "86", "25", ("8", "5", "6"), 8, "2100##", 8),
    (_CN, "hans", "Suzhou", "苏州", "suz", "320505", "86", "512", ("6", "8", "5"), 8, "2150##", 8),
    (_CN, "hans", "Chengdu", "成都", "cd", "510107", "86", "28", ("8", "6", "5"), 8, "6100##", 8),
    (_CN, "hans", "Wuhan", "武汉", "wh", "420106", "86", "27", ("8", "5", "6"), 8, "4300##", 8),
    (_CN, "hans", "Tianjin", "天津", "tj", "120116", "86", "22", ("2", "5", "6"), 8, "3000##", 8),
    (_CN, "hans", "Chongqing", "重庆", "cq", "500103", "86", "23", ("6", "8", "4"), 8, "4000##", 8),
    (_CN, "hans", "Xi'an", "西安", "xa", "610113", "86", "29", ("8", "6", "3"), 8, "7100##", 8),
    (_CN, "hans", "Qingdao", "青岛", "qd", "370212", "86", "532", ("8", "6", "5"), 8, "2660##", 8),
    (_CN, "hans", "Xiamen", "厦门", "xm", "350203", "86", "592", ("5", "2", "6"), 7, "3610##", 8),
    (_CN, "hans", "Ningbo", "宁波", "nb", "330212", "86", "574", ("8", "2", "5"), 8, "3150##", 8),
    (_CN, "hans", "Dongguan", "东莞", "dg", "441900", "86", "769", ("2", "8", "6"), 8, "5230##", 8),
    (_CN, "hans", "Foshan", "佛山", "fs", "440604", "86", "757", ("8", "6", "2"), 8, "5280##", 8),
    (_CN, "hans", "Changsha", "长沙", "cs", "430104", "86", "731", ("8", "5", "2"), 8, "4100##", 8),
    (_CN, "hans", "Zhengzhou", "郑州", "zz", "410105", "86", "371", ("6", "5", "8"), 8, "4500##", 8),
    (_CN, "hans", "Jinan", "济南", "jn", "370102", "86", "531", ("8", "6", "5"), 8, "2500##", 8),
    (_CN, "hans", "Hefei", "合肥", "hf", "340104", "86", "551", ("6", "5", "2"), 8, "2300##", 8),
    (_CN, "hans", "Fuzhou", "福州", "fz", "350102", "86", "591", ("8", "2", "6"), 8, "3500##", 8),
    (_CN, "hans", "Dalian", "大连", "dl", "210204", "86", "411", ("8", "3", "6"), 8, "1160##", 8),
    (_CN, "hans", "Shenyang", "沈阳", "sy", "210102", "86", "24", ("2", "8", "3"), 8, "1100##", 8),
    (_CN, "hans", "Kunming", "昆明", "km", "530102", "86", "871", ("6", "5", "8"), 8, "6500##", 8),
    (_CN, "hans", "Wuxi", "无锡", "wx", "320213", "86", "510", ("8", "6", "5"), 8, "2140##", 8),
    (_CN, "hans", "Harbin", "哈尔滨", "hrb", "230103", "86", "451", ("8", "5", "6"), 8, "1500##", 8),
    (_CN, "hans", "Nanning", "南宁", "nn", "450103", "86", "771", ("5", "2", "3"), 7, "5300##", 8),
    (_CN, "hans", "Changchun", "长春", "cc", "220102", "86", "431", ("8", "5", "6"), 8, "1300##", 8),
    (_CN, "hans", "Shijiazhuang", "石家庄", "sjz", "130102", "86", "311", ("8", "6", "5"), 8, "0500##", 8),
    # Taiwan and Hong Kong: traditional script
    ("TW", "hant", "Taipei", "台北", "", "", "886", "2", ("2", "8", "7"), 8, "1##", 8),
    ("TW", "hant", "New Taipei", "新北", "ntpc", "", "886", "2", ("2", "8", "6"), 8, "2##", 8),
    ("TW", "hant", "Taichung", "台中", "tc", "", "886", "4", ("22", "23", "24"), 8, "4##", 8),
    ("HK", "hant", "Hong Kong", "香港", "", "", "852", "", ("21", "25", "28"), 8, "", 8),
    ("HK", "hant", "Kowloon", "九龙", "kln", "", "852", "", ("23", "27", "26"), 8, "", 8),
    # elsewhere
    ("GB", "latin", "London", None, "", "", "44", "20", ("7", "3", "8"), 8, "EC1A #AB", 0),
    ("GB", "latin", "Manchester", None, "mcr", "", "44", "161", ("2", "4", "8"), 7, "M# #NX", 0),
    ("GB", "latin", "Birmingham", None, "bham", "", "44", "121", ("2", "4", "6"), 7, "B# #TT", 0),
    ("DE", "latin", "Berlin", None, "", "", "49", "30", ("2", "4", "8"), 8, "10###", 1),
    ("DE", "latin", "Munich", None, "muc", "", "49", "89", ("2", "4", "5"), 8, "80###", 1),
    ("DE", "latin", "Hamburg", None, "ham", "", "49", "40", ("3", "4", "5"), 8, "20###", 1),
    ("DE", "latin", "Frankfurt", None, "fra", "", "49", "69", ("2", "7", "9"), 8, "60###", 1),
    ("FR", "latin", "Paris", None, "", "", "33", "1", ("4", "5", "7"), 8, "750##", 1),
    ("FR", "latin", "Lyon", None, "lyo", "", "33", "4", ("7", "2", "3"), 8, "6900#", 1),
    ("NL", "latin", "Amsterdam", None, "", "", "31", "20", ("5", "6", "7"), 7, "10## AB", 1),
    ("NL", "latin", "Rotterdam", None, "rtm", "", "31", "10", ("2", "4", "7"), 7, "30## CD", 1),
    ("US", "latin", "New York", None, "", "", "1", "212", ("2", "3", "7"), 7, "100##", -5),
    ("US", "latin", "San Francisco", None, "sf", "", "1", "415", ("3", "5", "7"), 7, "941##", -8),
    ("US", "latin", "Chicago", None, "chi", "", "1", "312", ("2", "4", "6"), 7, "606##", -6),
    ("US", "latin", "Seattle", None, "sea", "", "1", "206", ("3", "4", "6"), 7, "981##", -8),
    ("US", "latin", "Boston", None, "bos", "", "1", "617", ("2", "4", "7"), 7, "021##", -5),
    ("CA", "latin", "Toronto", None, "", "", "1", "416", ("3", "5", "9"), 7, "M5V #A#", -5),
    ("CA", "latin", "Vancouver", None, "van", "", "1", "604", ("6", "2", "8"), 7, "V6B #C#", -8),
    ("SG", "latin", "Singapore", None, "", "", "65", "", ("62", "63", "65"), 8, "0#####", 8),
    ("JP", "latin", "Tokyo", None, "", "", "81", "3", ("3", "5", "6"), 8, "100-00##", 9),
    ("JP", "latin", "Osaka", None, "osk", "", "81", "6", ("6", "4", "7"), 8, "530-00##", 9),
    ("AU", "latin", "Sydney", None, "", "", "61", "2", ("9", "8", "2"), 8, "20##", 10),
    ("AU", "latin", "Melbourne", None, "mel", "", "61", "3", ("9", "8", "6"), 8, "30##", 10),
))


@dataclass(frozen=True, slots=True)
class Country:
    spellings: tuple[str, ...]
    """How people write the country: English name first, then common variants."""
    currency: str
    units_per_usd: int
    """Rough value of 1 USD in this currency, so amounts are realistic everywhere."""
    vat_rate_pct: int
    tld: str
    mobile_prefixes: tuple[str, ...]
    """Leading digits of valid mobile numbers (checked with phonenumbers); US/CA: area codes."""
    mobile_length: int
    """Mobile national significant number length, prefix included (no trunk prefix)."""
    trunk: str
    """National trunk prefix ('0', '1' or '')."""


_TW_MOBILE = tuple(f"9{d:02d}" for d in range(10, 90))
COUNTRIES: dict[str, Country] = {
    "CN": Country(("China", "CN", "中国", "PRC", "P.R. China", "People's Republic of China", "中國"), "CNY", 7,
                  13, "com.cn", ("130", "131", "135", "136", "137", "138", "139", "150", "151", "152", "158",
                                 "159", "186", "187", "188", "189"), 11, "0"),
    "TW": Country(("Taiwan", "TW", "台灣", "臺灣", "Taiwan, Province of China"), "TWD", 31, 5, "com.tw",
                  _TW_MOBILE, 9, "0"),
    "HK": Country(("Hong Kong", "HK", "香港", "Hong Kong SAR", "HKSAR"), "HKD", 8, 0, "com.hk",
                  ("61", "62", "63", "64", "65", "69", "94", "96", "97"), 8, ""),
    "GB": Country(("United Kingdom", "GB", "UK", "England", "Great Britain"), "GBP", 1, 20, "co.uk",
                  tuple(str(h) for h in range(740, 760)), 10, "0"),
    "DE": Country(("Germany", "DE", "Deutschland", "DEU"), "EUR", 1, 19, "de",
                  ("151", "160", "170", "171", "175", "176", "177"), 11, "0"),
    "FR": Country(("France", "FR", "FRA"), "EUR", 1, 20, "fr", ("60", "61", "62", "64", "65", "66", "67", "68"), 9,
                  "0"),
    "NL": Country(("Netherlands", "NL", "Holland", "The Netherlands"), "EUR", 1, 21, "nl",
                  ("61", "62", "63", "64", "65", "68"), 9, "0"),
    "US": Country(("United States", "US", "USA", "U.S.A.", "United States of America"), "USD", 1, 0, "com",
                  ("415", "212", "312", "206", "617"), 10, "1"),
    "CA": Country(("Canada", "CA", "CAN"), "CAD", 1, 13, "ca", ("416", "604", "647"), 10, "1"),
    "SG": Country(("Singapore", "SG", "新加坡"), "SGD", 1, 9, "com.sg", ("81", "82", "83", "84", "85", "86", "87",
                                                                       "88", "89", "91", "92", "93", "94"), 8, ""),
    "JP": Country(("Japan", "JP", "日本", "JPN"), "JPY", 150, 10, "co.jp",
                  ("701", "702", "801", "802", "803", "901", "902", "903", "905", "906"), 10, "0"),
    "AU": Country(("Australia", "AU", "AUS"), "AUD", 2, 10, "com.au", ("40", "41", "42", "43", "46"), 9, "0"),
}

# -- addresses ------------------------------------------------------------------------------
CN_ROADS: tuple[tuple[str, str], ...] = (
    ("人民路", "Renmin Road"), ("建设路", "Jianshe Road"), ("中山路", "Zhongshan Road"), ("解放路", "Jiefang Road"),
    ("科技路", "Keji Road"), ("创业大道", "Chuangye Avenue"), ("长江路", "Changjiang Road"), ("黄河路", "Huanghe Road"),
    ("世纪大道", "Century Avenue"), ("滨江路", "Binjiang Road"), ("高新大道", "Gaoxin Avenue"),
    ("文化路", "Wenhua Road"),
    ("工业大道", "Gongye Avenue"), ("新华路", "Xinhua Road"), ("和平路", "Heping Road"), ("东风路", "Dongfeng Road"),
)
CN_ZONES: tuple[tuple[str, str], ...] = (
    ("高新区", "Hi-Tech Zone"), ("经济开发区", "Economic Development Zone"), ("工业园区", "Industrial Park"),
    ("", ""), ("", ""), ("自贸区", "Free Trade Zone"),
)
LATIN_STREETS = (
    "High Street", "Station Road", "Market Street", "Church Lane", "Park Avenue", "Main Street", "King Street",
    "Queen's Road", "Harbour Road", "Mill Lane", "Hauptstraße", "Bahnhofstraße", "Rue de la Paix", "Rue du Commerce",
    "Keizersgracht", "Elm Street", "Oak Avenue", "Maple Drive", "Orchard Road", "George Street", "Collins Street",
)

# -- people ---------------------------------------------------------------------------------
CN_SURNAMES: tuple[tuple[str, str], ...] = tuple((w[0], w[1:]) for w in _words(
    "王Wang 李Li 张Zhang 刘Liu 陈Chen 杨Yang 黄Huang 赵Zhao 吴Wu 周Zhou 徐Xu 孙Sun 马Ma 朱Zhu 胡Hu 郭Guo "
    "何He 林Lin 罗Luo 高Gao 郑Zheng 梁Liang 谢Xie 宋Song 唐Tang 许Xu 韩Han 冯Feng 邓Deng 曹Cao 彭Peng 曾Zeng "
    "肖Xiao 田Tian 董Dong 潘Pan 袁Yuan 蔡Cai 蒋Jiang 余Yu 于Yu 杜Du 叶Ye 程Cheng 魏Wei 苏Su 吕Lv 丁Ding"
))
CN_GIVEN: tuple[tuple[str, str], ...] = tuple((w.split("|")[0], w.split("|")[1]) for w in _words(
    "伟|Wei 芳|Fang 娜|Na 敏|Min 静|Jing 丽|Li 强|Qiang 磊|Lei 军|Jun 洋|Yang 勇|Yong 艳|Yan 杰|Jie 娟|Juan "
    "涛|Tao 明|Ming 超|Chao 秀英|Xiuying 霞|Xia 平|Ping 刚|Gang 桂英|Guiying 晓明|Xiaoming 建华|Jianhua "
    "志强|Zhiqiang 海燕|Haiyan 文博|Wenbo 雨涵|Yuhan 子涵|Zihan 浩然|Haoran 欣怡|Xinyi 宇轩|Yuxuan 思远|Siyuan "
    "佳怡|Jiayi 俊杰|Junjie 梓萱|Zixuan 一鸣|Yiming 晨|Chen 鹏|Peng 慧|Hui 婷|Ting 斌|Bin 宁|Ning 琳|Lin "
    "建国|Jianguo 红梅|Hongmei 志伟|Zhiwei 丽娟|Lijuan 晓东|Xiaodong 春燕|Chunyan 国强|Guoqiang 玉兰|Yulan"
))
CN_ENGLISH_NAMES = (
    "David", "Kevin", "Jason", "Eric", "Vivian", "Grace", "Cindy", "Tony", "Jack", "Amy", "Lily", "Sunny",
    "Michael", "Linda", "Helen", "Peter", "Frank", "Alice", "Leo", "Coco", "Jerry", "Sophia", "Henry", "Echo",
)
LATIN_FIRST = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth", "David",
    "Susan", "Richard", "Jessica", "Thomas", "Sarah", "Daniel", "Karen", "Matthew", "Emma", "Oliver", "Sophie",
    "Lukas", "Anna", "Felix", "Lea", "Pierre", "Camille", "Thomas", "Julie", "Daan", "Sanne", "Hiroshi", "Yuki",
    "Kenji", "Aiko", "Wei Ming", "Priya", "Raj", "Chloe", "Jack", "Olivia", "Noah", "Ava", "Liam", "Mia",
)
LATIN_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Anderson", "Thomas",
    "Moore", "Martin", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Müller", "Schmidt",
    "Schneider", "Fischer", "Weber", "Meyer", "Dubois", "Martin", "Bernard", "Moreau", "Laurent", "de Vries",
    "Jansen", "van Dijk", "Bakker", "Sato", "Suzuki", "Takahashi", "Tanaka", "Tan", "Lim", "Ng", "O'Brien",
    "MacDonald", "Nguyen", "Singh", "Patel", "Kelly", "Murphy", "Cohen",
)
TITLES_ZH = ("采购经理", "财务经理", "总经理", "销售总监", "IT经理", "运营主管", "采购专员", "行政经理", "财务主管",
             "技术总监")
TITLES_EN = (
    "Purchasing Manager", "Finance Manager", "General Manager", "Sales Director", "IT Manager", "Operations Lead",
    "Procurement Specialist", "Office Manager", "Accounts Payable", "CTO", "CEO", "CFO", "Head of Procurement",
)
FREE_MAIL_CN = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com")
FREE_MAIL_INTL = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com")
FINANCE_MAILBOXES_CN = ("finance", "caiwu", "ap", "billing", "invoice", "fin")
FINANCE_MAILBOXES = ("accounts", "ap", "billing", "finance", "invoices", "accounts.payable")

# -- products -------------------------------------------------------------------------------
PRODUCTS: tuple[tuple[str, str, int], ...] = tuple(
    (f"SKU-{1001 + k}", name, usd) for k, (name, usd) in enumerate((
        ("Industrial Sensor S1", 120), ("Industrial Sensor S2 Pro", 340), ("Edge Gateway G4", 890),
        ("Control Module CM-10", 460), ("Power Supply 240W", 75), ("Cable Kit 5m", 18), ("Mounting Bracket", 9),
        ("Smart Meter M3", 210), ("Thermal Camera T8", 1650), ("Barcode Scanner B2", 140), ("Label Printer L5", 390),
        ("Packaging Film Roll", 42), ("Carton Box (100)", 55), ("Pallet Wrap", 28), ("Safety Gloves (50)", 35),
        ("Lab Reagent Kit", 260), ("Filter Cartridge", 64), ("Pump Assembly P7", 1240), ("Valve V-200", 185),
        ("LED Panel 60x60", 48), ("Servo Motor SM-4", 520), ("Software License (annual)", 1200),
        ("Support Plan Gold", 2400), ("Installation Service", 800), ("Training Day", 950), ("Spare Parts Pack", 150),
        ("Office Chair Ergo", 230), ("Standing Desk", 480), ("Textile Roll 50m", 310), ("Solar Panel 400W", 260),
    )))

# -- free text ------------------------------------------------------------------------------
CASE_SUBJECTS = {
    "Complaint": ("Late delivery", "Damaged goods on arrival", "Invoice amount wrong", "Unhappy with support response",
                  "Wrong items shipped", "Quality issue with last batch"),
    "Question": ("How to change billing address", "Request for price list", "Question about warranty",
                 "Need copy of invoice", "Lead time for next order"),
    "Problem": ("Device not connecting", "Login issue on portal", "Error code E42 on gateway",
                "Firmware update failed", "Label printer jams"),
}
TASK_SUBJECTS = {"Call": ("Call", "Follow-up call", "Quarterly check-in call", "Call about renewal"),
                 "Email": ("Email: quote", "Email: pricing", "Email: order confirmation", "Send brochure"),
                 "Task": ("Prepare proposal", "Update account plan", "Send contract", "Check credit limit")}
EVENT_SUBJECTS = {"Meeting": ("Quarterly business review", "Site visit", "Product demo", "Contract negotiation"),
                  "Chat": ("WeChat follow-up", "Teams chat", "Live chat"),
                  "Social": ("Trade fair meeting", "Customer dinner", "LinkedIn message")}
SURVEY_COMMENTS_GOOD = ("Great service", "Fast delivery, thanks", "Very helpful team", "服务很好", "满意", None)
SURVEY_COMMENTS_BAD = ("Too slow to respond", "Delivery was late again", "Prices went up", "质量有问题", "不满意",
                       None)
OPPORTUNITY_TOPICS = ("Renewal", "Expansion", "New project", "Annual supply", "Pilot order", "Upgrade",
                      "Service contract")
CREDIT_REASONS = ("damaged goods", "price adjustment", "returned items", "duplicate invoice", "service credit")
SALES_CHANNELS = ("web", "sales_rep", "phone", "partner", "marketplace")


# -- derived tables -------------------------------------------------------------------------
def _brands() -> tuple[tuple[tuple[str, str, str], ...], tuple[str, ...]]:
    """Chinese brands as (characters, pinyin 'Huateng', pinyin by syllable 'Hua Teng'), and Latin brands."""
    cn: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for a in range(len(CN_CHARS)):
        for b in range(len(CN_CHARS)):
            if a == b:
                continue
            latin = (CN_PINYIN[a] + CN_PINYIN[b]).capitalize()
            if latin not in seen:
                seen.add(latin)
                spaced = f"{CN_PINYIN[a].capitalize()} {CN_PINYIN[b].capitalize()}"
                cn.append((CN_CHARS[a] + CN_CHARS[b], latin, spaced))
    latin_brands: list[str] = []
    seen = set()
    for mid in ("", *_LATIN_MIDS):
        for head in _LATIN_HEADS:
            for tail in _LATIN_TAILS:
                word = head + mid + tail
                if word.lower() not in seen:
                    seen.add(word.lower())
                    latin_brands.append(word)
    return tuple(cn), tuple(latin_brands)


CN_BRANDS, LATIN_BRANDS = _brands()
LATIN_PLACES_PER_COUNTRY = max(sum(1 for p in PLACES if p.country == q.country)
                               for q in PLACES if q.script == "latin")
BRANDS = min(len(CN_BRANDS), len(LATIN_BRANDS) // LATIN_PLACES_PER_COUNTRY)
"""Brands per place and industry: with the places and industries, the number of distinct companies."""
CAPACITY = BRANDS * len(INDUSTRIES) * len(PLACES)


@cache
def traditional() -> dict[str, str]:
    """Simplified → traditional, character by character, for every Chinese word used here.

    OpenCC (s2t) converts all words in one call, once; names built from these words then
    convert with a dictionary look-up per character.
    """
    import opencc  # pure Python; one call over all words keeps this to milliseconds

    words = sorted({*CN_CHARS, *(i.zh for i in INDUSTRIES), *(p.city_zh for p in PLACES if p.city_zh),
                    *(f.zh for forms in (LEGAL_CN, LEGAL_TW, LEGAL_HK) for f in forms if f.zh),
                    *(r for r, _ in CN_ROADS), *(z for z, _ in CN_ZONES if z), *(s for s, _ in CN_SURNAMES),
                    *(g for g, _ in CN_GIVEN), *TITLES_ZH, "市", "号", "楼"})
    converted = opencc.OpenCC("s2t").convert("\n".join(words)).split("\n")
    table: dict[str, str] = {}
    for word, trad in zip(words, converted, strict=True):
        if len(word) == len(trad):
            table.update(zip(word, trad, strict=True))
    return table


def to_traditional(text: str) -> str:
    """Traditional form of text built from this module's words (other characters pass through)."""
    table = traditional()
    return "".join(table.get(ch, ch) for ch in text)
