#!/usr/bin/env python3
"""Generates a messy, multilingual customer file for `audsync hash` (pure stdlib, seeded).

Usage: scripts/gen-users.py --rows 1000000 --seed 42 --out bench-data/users.csv

Columns: user_id,email,phone,first_name,last_name,city,state,zip,country,dob,gender,madid.
Values are deliberately messy the way real CRM exports are: mixed case, stray and non-breaking
spaces, `mailto:` and `<...>` wrappers, invalid emails, national phone formats of 24 countries
with `+`, `00`, `(0)`, extensions, full-width digits and junk, names in Latin, Chinese, Korean,
Cyrillic and Arabic scripts with apostrophes and hyphens, states and countries by code, name and
native name, US ZIP+4 and 4-digit ZIPs, UK and Canadian postcodes, birth dates in ten formats,
genders in several languages. About 5% of the rows are "thin" users (only a ZIP, only a city
and a country, ...) that do not carry enough to match and must be rejected; 0.1% have no user
id. The same --seed always gives the same file.
"""

import argparse
import csv
import random
import sys

NBSP = "\u00a0"

# Per country: the country cell variants, (city, state) pairs, a zip maker, a phone maker,
# the date order users of that country write, and the name pools to draw from.
FIRST_LATIN = ["John", "Mary", "james", "PATRICIA", "Robert", "Jennifer", "Michael", "Linda",
               "William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
               "Thomas", "Sarah", "Christopher", "Karen", "Anne-Marie", "Jean-Luc", "Mary Ann"]
LAST_LATIN = ["Smith", "Johnson", "WILLIAMS", "brown", "Jones", "Garcia", "Miller", "Davis",
              "O'Brien", "O’Connor", "Smith-Jones", "McDonald", "van der Berg", "D'Angelo",
              "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson"]
FIRST_FR = ["Jérôme", "Hélène", "François", "Zoé", "Amélie", "Chloé", "Gaëlle", "Loïc",
            "Éric", "Céline", "Jean-Pierre", "Marie-Thérèse"]
LAST_FR = ["Lefèvre", "Dubois", "Lemaître", "Girard", "Bérénger", "Mercier", "d'Artagnan",
           "Côté", "Fauré", "Chevalier"]
FIRST_DE = ["Jürgen", "Björn", "Jörg", "Günther", "Uwe", "Käthe", "Sören", "Anna-Lena", "Lukas"]
LAST_DE = ["Müller", "Schröder", "Weiß", "Groß", "Schäfer", "Köhler", "Bäcker", "Fischer",
           "von Göthe"]
FIRST_ES = ["José", "María", "Jesús", "Lucía", "Ángel", "Sofía", "Raúl", "Inés", "João",
            "Conceição", "Iñaki"]
LAST_ES = ["Núñez", "García", "Pérez", "Martínez", "Gómez", "Ibáñez", "Muñoz", "São João",
           "Gonçalves", "Hernández"]
FIRST_NORDIC = ["Åsa", "Øystein", "Søren", "Märta", "Björk", "Ægir", "Lærke", "Ørjan"]
LAST_NORDIC = ["Ødegård", "Åberg", "Bjørnson", "Lindström", "Sjöberg", "Kjærgaard"]
FIRST_PL = ["Łukasz", "Zofia", "Wojciech", "Małgorzata", "Paweł", "Agnieszka"]
LAST_PL = ["Wiśniewski", "Kowalczyk", "Wójcik", "Dąbrowska", "Łęcka"]
FIRST_ZH = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军"]
LAST_ZH = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"]
FIRST_KO = ["민준", "서연", "지훈", "하은", "도윤", "서준", "지우"]
LAST_KO = ["김", "이", "박", "최", "정", "강", "조"]
FIRST_JA = ["翔", "陽菜", "蓮", "結衣", "さくら", "ゆうと"]
LAST_JA = ["佐藤", "鈴木", "高橋", "田中", "渡辺"]
FIRST_RU = ["Иван", "Ольга", "Дмитрий", "Наталья", "Сергей", "Анна", "Алексей", "Юлия"]
LAST_RU = ["Иванов", "Смирнова", "Кузнецов", "Попова", "Васильев", "Петров"]
FIRST_AR = ["محمد", "أحمد", "فاطمة", "علي", "مريم", "Mohammed", "Fatima"]
LAST_AR = ["العلي", "الحسن", "Al-Farsi", "El-Sayed", "بن سعيد"]
FIRST_IN = ["Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha"]
LAST_IN = ["Sharma", "Patel", "Reddy", "Iyer", "Gupta"]

LATIN = (FIRST_LATIN, LAST_LATIN)

ASCII_FOR_EMAIL = ["john", "mary", "jdoe", "m.smith", "info", "k.lee", "wang.wei", "minjun",
                   "ivanov", "ahmed", "jose.nunez", "helene", "jurgen", "sophie.b", "a.rossi"]
EMAIL_DOMAINS = ["gmail.com", "Yahoo.com", "hotmail.co.uk", "orange.fr", "web.de", "qq.com",
                 "naver.com", "mail.ru", "outlook.com", "example.com", "icloud.com",
                 "libero.it", "gmx.at", "Company.CO"]


def digits(rng, n):
    return "".join(rng.choice("0123456789") for _ in range(n))


def groups(s, sizes, sep=" "):
    out, i = [], 0
    for size in sizes:
        out.append(s[i:i + size])
        i += size
    return sep.join(out)


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def phone_us(rng, area_codes):
    area = rng.choice(area_codes)
    exchange = str(rng.randint(2, 9)) + digits(rng, 2)
    line = digits(rng, 4)
    return rng.choice([
        f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}", f"+1 {area} {exchange} {line}",
        f"1-{area}-{exchange}-{line}", f"{area}.{exchange}.{line}",
        f"+1 ({area}) {exchange}-{line} ext. {rng.randint(1, 999)}", f"{area}{exchange}{line}",
        f"001 {area} {exchange} {line}", f"+1{area}{exchange}{line}",
        f"{area} {exchange} {line} x{rng.randint(10, 99)}",
    ])


def phone_fr(rng):
    n = rng.choice("67") + digits(rng, 8)
    spaced = groups(n, [1, 2, 2, 2, 2])
    return rng.choice([f"0{spaced}", f"+33 {spaced}", f"0033{n}", f"+33 (0){spaced}",
                       f"0{n}", ("0" + spaced).translate(FULLWIDTH), f"+33{n}",
                       "0" + groups(n, [1, 2, 2, 2, 2], ".")])


def phone_gb(rng):
    if rng.random() < 0.7:
        n = "7" + rng.choice(["911", "700", "400", "500", "800", "900"]) + digits(rng, 6)
        return rng.choice([f"0{n[:4]} {n[4:]}", f"+44 {n[:4]} {n[4:]}", f"+44 (0){n[:4]} {n[4:]}",
                           f"0044 {n}", f"+44{n}", f"0{n}"])
    n = "20" + rng.choice("378") + digits(rng, 7)
    return rng.choice([f"+44 (0)20 {n[2:6]} {n[6:]}", f"020 {n[2:6]} {n[6:]}", f"+44 20 {n[2:]}"])


def phone_de(rng):
    n = rng.choice(["151", "152", "157", "176"]) + digits(rng, 8)
    return rng.choice([f"0{n[:3]} {n[3:]}", f"+49 {n[:3]} {n[3:]}", f"0049 {n}", f"+49 (0){n[:3]} {n[3:]}",
                       f"0{n[:3]}/{n[3:]}", f"0{n[:3]}-{n[3:]}"])


def phone_simple(cc, national_prefix, make):
    def gen(rng):
        n = make(rng)
        return rng.choice([f"+{cc} {n}", f"00{cc} {n}", f"{national_prefix}{n}", f"+{cc}{n.replace(' ', '')}",
                           f"{national_prefix}{n.replace(' ', '')}"])
    return gen


PHONES = {
    "US": lambda rng: phone_us(rng, ["212", "415", "650", "312", "617", "305", "206", "512", "702", "404", "718", "213"]),
    "CA": lambda rng: phone_us(rng, ["416", "604", "514", "403", "613", "780", "902"]),
    "GB": phone_gb,
    "FR": phone_fr,
    "DE": phone_de,
    "ES": phone_simple("34", "", lambda r: "6" + groups(digits(r, 8), [2, 3, 3])),
    "IT": phone_simple("39", "", lambda r: "3" + rng_pick(r, "12345689") + digits(r, 1) + " " + digits(r, 7)),
    "NL": phone_simple("31", "0", lambda r: "6 " + digits(r, 8)),
    "BE": phone_simple("32", "0", lambda r: "4" + rng_pick(r, "789") + digits(r, 1) + " " + groups(digits(r, 6), [2, 2, 2])),
    "CH": phone_simple("41", "0", lambda r: "7" + rng_pick(r, "6789") + " " + groups(digits(r, 7), [3, 2, 2])),
    "AT": phone_simple("43", "0", lambda r: "664 " + digits(r, 7)),
    "SE": phone_simple("46", "0", lambda r: "70 " + groups(digits(r, 7), [3, 2, 2])),
    "NO": phone_simple("47", "", lambda r: rng_pick(r, "49") + digits(r, 2) + " " + groups(digits(r, 5), [2, 3])),
    "DK": phone_simple("45", "", lambda r: "2" + digits(r, 1) + " " + groups(digits(r, 6), [2, 2, 2])),
    "PL": phone_simple("48", "", lambda r: "5" + digits(r, 2) + " " + groups(digits(r, 6), [3, 3])),
    "BR": phone_simple("55", "0", lambda r: "11 9" + digits(r, 4) + "-" + digits(r, 4)),
    "MX": phone_simple("52", "", lambda r: "55 " + groups(digits(r, 8), [4, 4])),
    "IN": phone_simple("91", "0", lambda r: "9" + digits(r, 4) + " " + digits(r, 5)),
    "JP": phone_simple("81", "0", lambda r: "90-" + digits(r, 4) + "-" + digits(r, 4)),
    "CN": phone_simple("86", "", lambda r: "13" + digits(r, 1) + " " + groups(digits(r, 8), [4, 4])),
    "KR": phone_simple("82", "0", lambda r: "10-" + digits(r, 4) + "-" + digits(r, 4)),
    "AU": phone_simple("61", "0", lambda r: "4" + digits(r, 2) + " " + groups(digits(r, 6), [3, 3])),
    "RU": phone_simple("7", "8 ", lambda r: "9" + digits(r, 2) + " " + digits(r, 3) + "-" + digits(r, 2) + "-" + digits(r, 2)),
    "AE": phone_simple("971", "0", lambda r: "5" + rng_pick(r, "0256") + " " + groups(digits(r, 7), [3, 4])),
}


def rng_pick(rng, chars):
    return rng.choice(chars)


def zip_us(rng):
    z = digits(rng, 5)
    roll = rng.random()
    if roll < 0.55:
        return z
    if roll < 0.75:
        return f"{z}-{digits(rng, 4)}"
    if roll < 0.82:
        return f"{z} {digits(rng, 4)}"
    if roll < 0.95:
        # Lost leading zero (New England ZIPs read as numbers by a spreadsheet).
        return rng.choice(["2134", "2108", "1002", "6103", "7302", "8540"])
    return f" {z} "


def zip_gb(rng):
    return rng.choice(["SW1A 1AA", "sw1a1aa", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH",
                       "DN55 1PT", "LS1 4AP", "EH1 1YZ", " ec1a 1bb "])


def zip_ca(rng):
    return rng.choice(["K1A 0B1", "H3Z 2Y7", "M5V 3L9", "V6B4Y8", "t2p 1j9", "H2X-1Y4"])


def zip_digits(n):
    return lambda rng: digits(rng, n)


# country code -> (country cell variants, [(city variants, state variants)], zip maker, date order, name pools)
COUNTRIES = {
    "US": (["US", "USA", "United States", "U.S.A.", "United States of America", "us", "usa ", "U.S."],
           [(["New York", "NEW YORK", "new york city", "NYC"], ["NY", "New York", "ny"]),
            (["Menlo Park", "menlo park", "San Francisco", "Los Angeles"], ["CA", "California", "Calif", "ca"]),
            (["Chicago", "CHICAGO"], ["IL", "Illinois"]),
            (["Boston", "Cambridge"], ["MA", "Massachusetts"]),
            (["Austin", "Houston"], ["TX", "Texas", "tx"]),
            (["Seattle"], ["WA", "Washington"]),
            (["Miami"], ["FL", "Florida"])],
           zip_us, "mdy", [LATIN, LATIN, LATIN, (FIRST_ES, LAST_ES), (FIRST_ZH, LAST_ZH), (FIRST_KO, LAST_KO)]),
    "CA": (["CA", "CAN", "Canada", "canada"],
           [(["Montréal", "Montreal", "MONTRÉAL", "Québec"], ["QC", "Québec", "Quebec", "qc"]),
            (["Toronto", "Ottawa"], ["ON", "Ontario"]),
            (["Vancouver"], ["BC", "British Columbia", "Colombie-Britannique"]),
            (["Calgary"], ["AB", "Alberta"])],
           zip_ca, "dmy", [LATIN, (FIRST_FR, LAST_FR)]),
    "GB": (["GB", "UK", "United Kingdom", "Great Britain", "GBR", "England"],
           [(["London", "LONDON"], ["England", "Greater London", ""]),
            (["Manchester"], ["England", "Greater Manchester"]),
            (["Edinburgh"], ["Scotland"])],
           zip_gb, "dmy", [LATIN, (FIRST_IN, LAST_IN)]),
    "FR": (["FR", "FRA", "France", "france", "République française"],
           [(["Paris", "PARIS", "paris 8e"], ["Île-de-France", "IDF", ""]),
            (["Lyon", "Saint-Étienne"], ["Auvergne-Rhône-Alpes"])],
           zip_digits(5), "dmy", [(FIRST_FR, LAST_FR), (FIRST_AR, LAST_AR)]),
    "DE": (["DE", "DEU", "Germany", "Deutschland", "deutschland"],
           [(["München", "Munich", "MÜNCHEN"], ["Bayern", "Bavaria", "BY"]),
            (["Köln", "Cologne"], ["Nordrhein-Westfalen", "NRW"]),
            (["Berlin"], ["Berlin"])],
           zip_digits(5), "dmy", [(FIRST_DE, LAST_DE)]),
    "ES": (["ES", "ESP", "Spain", "España", "espana"],
           [(["Madrid"], ["Madrid", "Comunidad de Madrid"]), (["Barcelona"], ["Catalunya", "Cataluña", "Catalonia"])],
           zip_digits(5), "dmy", [(FIRST_ES, LAST_ES)]),
    "IT": (["IT", "ITA", "Italy", "Italia"],
           [(["Roma", "Rome"], ["Lazio", "RM"]), (["Milano", "Milan"], ["Lombardia", "MI"])],
           zip_digits(5), "dmy", [LATIN]),
    "NL": (["NL", "NLD", "Netherlands", "Nederland", "Holland", "The Netherlands"],
           [(["Amsterdam", "'s-Gravenhage"], ["Noord-Holland", "Zuid-Holland"])],
           lambda rng: digits(rng, 4) + " " + rng.choice(["AB", "XK", "cd"]), "dmy", [LATIN]),
    "BE": (["BE", "BEL", "Belgium", "Belgique", "België"],
           [(["Bruxelles", "Brussel", "Brussels"], ["Bruxelles-Capitale"]), (["Liège"], ["Wallonie"])],
           zip_digits(4), "dmy", [(FIRST_FR, LAST_FR)]),
    "CH": (["CH", "CHE", "Switzerland", "Schweiz", "Suisse", "Svizzera"],
           [(["Zürich", "Zurich"], ["ZH", "Zürich"]), (["Genève", "Geneva"], ["GE", "Genève"])],
           zip_digits(4), "dmy", [(FIRST_DE, LAST_DE), (FIRST_FR, LAST_FR)]),
    "AT": (["AT", "AUT", "Austria", "Österreich"],
           [(["Wien", "Vienna"], ["Wien"])], zip_digits(4), "dmy", [(FIRST_DE, LAST_DE)]),
    "SE": (["SE", "SWE", "Sweden", "Sverige"],
           [(["Göteborg", "Gothenburg", "Stockholm"], ["Västra Götaland", "Stockholms län"])],
           lambda rng: digits(rng, 3) + " " + digits(rng, 2), "ymd", [(FIRST_NORDIC, LAST_NORDIC)]),
    "NO": (["NO", "NOR", "Norway", "Norge"],
           [(["Oslo", "Tromsø"], ["Oslo", "Troms"])], zip_digits(4), "dmy", [(FIRST_NORDIC, LAST_NORDIC)]),
    "DK": (["DK", "DNK", "Denmark", "Danmark"],
           [(["København", "Copenhagen", "Århus"], ["Hovedstaden", "Midtjylland"])], zip_digits(4), "dmy",
           [(FIRST_NORDIC, LAST_NORDIC)]),
    "PL": (["PL", "POL", "Poland", "Polska"],
           [(["Kraków", "Łódź", "Warszawa"], ["Małopolskie", "Łódzkie", "Mazowieckie"])],
           lambda rng: digits(rng, 2) + "-" + digits(rng, 3), "dmy", [(FIRST_PL, LAST_PL)]),
    "BR": (["BR", "BRA", "Brazil", "Brasil"],
           [(["São Paulo", "Sao Paulo", "SÃO PAULO"], ["SP", "São Paulo"]), (["Rio de Janeiro"], ["RJ"])],
           lambda rng: digits(rng, 5) + "-" + digits(rng, 3), "dmy", [(FIRST_ES, LAST_ES)]),
    "MX": (["MX", "MEX", "Mexico", "México", "méXiCo"],
           [(["Ciudad de México", "CDMX", "Guadalajara"], ["CDMX", "Jalisco"])], zip_digits(5), "dmy",
           [(FIRST_ES, LAST_ES)]),
    "IN": (["IN", "IND", "India", "Bharat", "भारत"],
           [(["Mumbai", "Bombay", "मुंबई"], ["Maharashtra", "MH"]), (["Bengaluru", "Bangalore"], ["Karnataka"])],
           zip_digits(6), "dmy", [(FIRST_IN, LAST_IN)]),
    "JP": (["JP", "JPN", "Japan", "日本"],
           [(["Tokyo", "東京", "Osaka", "大阪"], ["Tokyo", "東京都", "Osaka"])],
           lambda rng: digits(rng, 3) + "-" + digits(rng, 4), "ymd", [(FIRST_JA, LAST_JA)]),
    "CN": (["CN", "CHN", "China", "中国", "PRC", "People's Republic of China"],
           [(["Beijing", "北京", "上海", "Shanghai"], ["Beijing", "北京市", "Shanghai"])], zip_digits(6), "ymd",
           [(FIRST_ZH, LAST_ZH)]),
    "KR": (["KR", "KOR", "South Korea", "Korea, Republic of", "대한민국", "Korea"],
           [(["Seoul", "서울", "Busan", "부산"], ["Seoul", "서울특별시", "Busan"])], zip_digits(5), "ymd",
           [(FIRST_KO, LAST_KO)]),
    "AU": (["AU", "AUS", "Australia"],
           [(["Sydney"], ["NSW", "New South Wales"]), (["Melbourne"], ["VIC", "Victoria"])], zip_digits(4), "dmy",
           [LATIN]),
    "RU": (["RU", "RUS", "Russia", "Россия", "Russian Federation"],
           [(["Москва", "Moscow", "Санкт-Петербург"], ["Москва", "Moscow", "Ленинградская область"])],
           zip_digits(6), "dmy", [(FIRST_RU, LAST_RU)]),
    "AE": (["AE", "ARE", "UAE", "United Arab Emirates", "الإمارات"],
           [(["Dubai", "دبي", "Abu Dhabi"], ["Dubai", "Abu Dhabi"])], lambda rng: "", "dmy",
           [(FIRST_AR, LAST_AR)]),
}
COUNTRY_CODES = list(COUNTRIES)
# The US is over-represented, as in most customer files.
COUNTRY_WEIGHTS = [30 if c == "US" else 8 if c in ("GB", "CA", "FR", "DE") else 3 for c in COUNTRY_CODES]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
GENDERS = ["male", "Female", "M", "f", "F", "m", "Male", "FEMALE", "homme", "femme", "H", "mujer",
           "hombre", "männlich", "weiblich", "man", "woman", "other", "", "", "non-binary",
           "unknown", "Masculino", "Feminino", "мужской", "女"]


def dob(rng, order):
    y, m, d = rng.randint(1935, 2006), rng.randint(1, 12), rng.randint(1, 28)
    fmt = rng.randrange(11)
    if fmt == 0:
        return f"{y:04d}-{m:02d}-{d:02d}"
    if fmt == 1:  # the country's own slash order, zero padded
        if order == "mdy":
            return f"{m:02d}/{d:02d}/{y:04d}"
        if order == "ymd":
            return f"{y:04d}/{m:02d}/{d:02d}"
        return f"{d:02d}/{m:02d}/{y:04d}"
    if fmt == 2:  # unpadded
        return f"{m}/{d}/{y}" if order == "mdy" else f"{d}/{m}/{y}"
    if fmt == 3:
        return f"{d:02d}.{m:02d}.{y:04d}"
    if fmt == 4:
        return f"{y:04d}{m:02d}{d:02d}"
    if fmt == 5:
        return f"{MONTHS[m - 1]} {d}, {y}"
    if fmt == 6:
        return f"{d} {MONTHS[m - 1][:3]} {y}"
    if fmt == 7:
        return f"{y:04d}-{m:02d}-{d:02d}T00:00:00Z"
    if fmt == 8:  # two-digit year
        return f"{m:02d}/{d:02d}/{y % 100:02d}" if order == "mdy" else f"{d:02d}/{m:02d}/{y % 100:02d}"
    if fmt == 9:
        return str(y)
    return rng.choice(["", "unknown", "00/00/0000", f"{y}-13-45"])


def email(rng, country):
    local = rng.choice(ASCII_FOR_EMAIL) + (str(rng.randint(1, 9999)) if rng.random() < 0.7 else "")
    domain = rng.choice(EMAIL_DOMAINS)
    if country == "FR" and rng.random() < 0.5:
        domain = "orange.fr"
    address = f"{local}@{domain}"
    roll = rng.random()
    if roll < 0.35:
        return address
    if roll < 0.55:
        return address.upper() if rng.random() < 0.5 else address.title()
    if roll < 0.70:
        return f"  {address} "
    if roll < 0.76:
        return f"{NBSP}{address}{NBSP}"
    if roll < 0.80:
        return f"mailto:{address}"
    if roll < 0.83:
        return f"<{address}>"
    if roll < 0.85:
        return f"\t{address.upper()}\t"
    if roll < 0.92:
        return ""
    # Not an address at all.
    return rng.choice([local, f"{local}@", f"@{domain}", f"{local} at {domain}",
                       f"{local}@localhost", f"{local} {local}@{domain}", "n/a", "none"])


def phone(rng, country):
    roll = rng.random()
    if roll < 0.08:
        return ""
    if roll < 0.11:
        return rng.choice(["n/a", "123", "000000", "call me", "+1 555", "-", "0", "unknown"])
    value = PHONES[country](rng)
    if rng.random() < 0.02 and country in ("AE", "IN"):
        value = value.translate(ARABIC_INDIC)
    return value


def messy_case(rng, value):
    roll = rng.random()
    if roll < 0.6:
        return value
    if roll < 0.75:
        return value.upper()
    if roll < 0.85:
        return value.lower()
    if roll < 0.95:
        return f" {value} "
    return f"{value}{NBSP}"


def thin_user(rng, writer_row, user_id, country):
    _, places, make_zip, _, _ = COUNTRIES[country]
    cities, _ = rng.choice(places)
    kind = rng.randrange(4)
    row = [user_id] + [""] * 11
    if kind == 0:
        row[7] = make_zip(rng) or "12345"
    elif kind == 1:
        row[5] = rng.choice(cities)
        row[8] = rng.choice(COUNTRIES[country][0])
    elif kind == 2:
        row[7] = make_zip(rng) or "12345"
        row[8] = rng.choice(COUNTRIES[country][0])
    else:
        row[1] = rng.choice(["n/a", "john@", "none"])
        row[10] = rng.choice(GENDERS)
    writer_row(row)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="-")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["user_id", "email", "phone", "first_name", "last_name", "city", "state", "zip",
                     "country", "dob", "gender", "madid"])
    write = writer.writerow
    countries = rng.choices(COUNTRY_CODES, weights=COUNTRY_WEIGHTS, k=args.rows)
    for row_idx in range(args.rows):
        country = countries[row_idx]
        user_id = f"u{row_idx + 1:07d}" if rng.random() >= 0.001 else ""
        if rng.random() < 0.05:
            thin_user(rng, write, user_id, country)
            continue
        country_cells, places, make_zip, order, name_pools = COUNTRIES[country]
        firsts, lasts = rng.choice(name_pools)
        cities, states = rng.choice(places)
        madid = ""
        if rng.random() < 0.3:
            madid = "%08x-%04x-%04x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
                                                   rng.getrandbits(16), rng.getrandbits(48))
            if rng.random() < 0.5:
                madid = madid.upper()
        write([
            user_id,
            email(rng, country),
            phone(rng, country),
            messy_case(rng, rng.choice(firsts)) if rng.random() < 0.95 else "",
            messy_case(rng, rng.choice(lasts)) if rng.random() < 0.95 else "",
            messy_case(rng, rng.choice(cities)) if rng.random() < 0.9 else "",
            rng.choice(states) if rng.random() < 0.85 else "",
            make_zip(rng) if rng.random() < 0.9 else "",
            rng.choice(country_cells) if rng.random() < 0.9 else "",
            dob(rng, order) if rng.random() < 0.8 else "",
            rng.choice(GENDERS),
            madid,
        ])
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
