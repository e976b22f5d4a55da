"""The test GeoIP database (Tests/GeoIP/make-mmdb.pl) read by MaxMind's own Python reader: the networks the
Swift tests post from must answer what networks.json says, IPv4 and IPv6, so a wrong answer of the gateway is
the gateway's and not the fixture's."""
import json
import pathlib
import subprocess

import maxminddb

HERE = pathlib.Path(__file__).resolve().parent.parent / "GeoIP"


def test_fixture_answers_its_probes(tmp_path):
    out = tmp_path / "test.mmdb"
    subprocess.run(["perl", str(HERE / "make-mmdb.pl"), str(HERE / "networks.json"), str(out)], check=True)
    spec = json.loads((HERE / "networks.json").read_text(encoding="utf-8"))
    with maxminddb.open_database(str(out)) as reader:
        assert reader.metadata().database_type == spec["database_type"]
        assert reader.metadata().ip_version == 6
        for probe in spec["probes"]:
            record = reader.get(probe["address"]) or {}
            found = {
                "country": record.get("country", {}).get("iso_code", ""),
                "region": (record.get("subdivisions") or [{}])[0].get("names", {}).get("en", ""),
                "city": record.get("city", {}).get("names", {}).get("en", ""),
            }
            expected = {key: probe[key] for key in ("country", "region", "city")}
            assert found == expected, probe["address"]
