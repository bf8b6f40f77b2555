//! Unit tests of `licenceaddin.conf` resolution: one test per rule of the administrator's guide.

use super::*;
use std::collections::HashMap;

fn places() -> Places {
    Places::under_root(Path::new("/r"))
}

fn user_file() -> PathBuf {
    PathBuf::from("/r/user/licenceaddin.conf")
}

fn common_file() -> PathBuf {
    PathBuf::from("/r/common/licenceaddin.conf")
}

fn series() -> SeriesId {
    "672B".parse().unwrap()
}

fn run(is_server: bool, code: &CodeSettings, files: &[(PathBuf, &str)]) -> Resolved {
    let files: HashMap<PathBuf, String> = files.iter().map(|(p, t)| (p.clone(), t.to_string())).collect();
    resolve(is_server, series(), code, &places(), |p| files.get(p).cloned())
}

fn code(addr: &str, port: Option<u16>, reserved: &str) -> CodeSettings {
    CodeSettings { addr: addr.into(), port, reserved: reserved.into(), local_fallback: None }
}

fn hosts(r: &Resolved) -> Vec<String> {
    r.endpoints.iter().map(|e| e.to_string()).collect()
}

#[test]
fn endpoint_items_parse_with_default_port_and_ipv6_brackets() {
    assert_eq!(parse_endpoint("srv", 9099).unwrap(), Endpoint::new("srv", 9099));
    assert_eq!(parse_endpoint(" srv:9100 ", 9099).unwrap(), Endpoint::new("srv", 9100));
    assert_eq!(parse_endpoint("[::1]:9100", 9099).unwrap(), Endpoint::new("::1", 9100));
    assert_eq!(parse_endpoint("[::1]", 9099).unwrap(), Endpoint::new("::1", 9099));
    assert_eq!(parse_endpoint("fe80::1", 9099).unwrap(), Endpoint::new("fe80::1", 9099));
    assert_eq!(Endpoint::new("::1", 9100).to_string(), "[::1]:9100");
    assert_eq!(Endpoint::new("::1", 9100).base_url(), "http://[::1]:9100");
    assert!(parse_endpoint("srv:0", 9099).unwrap_err().contains("`0`"));
    assert!(parse_endpoint("srv:x", 9099).unwrap_err().contains("`x`"));
    assert!(parse_endpoint("[::1", 9099).is_err());
    assert!(parse_endpoint("[::1]9100", 9099).is_err());
    assert!(parse_endpoint(":9100", 9099).is_err());
    assert!(parse_endpoint("a b", 9099).is_err());
}

#[test]
fn reserved_list_keeps_order_and_drops_bad_items() {
    let (list, bad) = parse_server_list("a, b:9100,,[::1]:9200, c:99999");
    assert_eq!(list, vec![Endpoint::new("a", 9099), Endpoint::new("b", 9100), Endpoint::new("::1", 9200)]);
    assert_eq!(bad.len(), 1);
    assert!(bad[0].contains("99999"));
}

#[test]
fn linux_and_windows_folders_are_the_documented_ones() {
    let linux = Places::from_vars(false, |v| (v == "HOME").then(|| PathBuf::from("/home/usr1cv8")));
    assert_eq!(linux.user, Some(PathBuf::from("/home/usr1cv8/.1C/licence/3.0")));
    assert_eq!(linux.common, PathBuf::from("/var/1C/licence/3.0"));
    assert_eq!(linux.data, PathBuf::from("/var/1C/licence/data"));
    assert_eq!(linux.server_config(), PathBuf::from("/var/1C/licence/3.0/licenceserver.conf"));
    let windows = Places::from_vars(true, |v| match v {
        "LOCALAPPDATA" => Some(PathBuf::from("L")),
        "PROGRAMDATA" => Some(PathBuf::from("P")),
        _ => None,
    });
    assert_eq!(windows.user, Some(Path::new("L").join("1C").join("licence").join("3.0")));
    assert_eq!(windows.common, Path::new("P").join("1C").join("licence").join("3.0"));
    assert_eq!(windows.data, Path::new("P").join("1C").join("Licence").join("Data"));
    let homeless = Places::from_vars(false, |_| None);
    assert_eq!(homeless.user, None);
    assert_eq!(homeless.config_candidates(false), vec![PathBuf::from("/var/1C/licence/3.0/licenceaddin.conf")]);
}

#[test]
fn nothing_set_means_localhost_9099() {
    let r = run(false, &CodeSettings::default(), &[]);
    assert_eq!(hosts(&r), ["localhost:9099"]);
    assert_eq!(r.addr.origin, Origin::Default);
    assert_eq!(r.file, None);
    assert!(r.problems.is_empty());
}

#[test]
fn client_prefers_the_users_file_over_the_common_one() {
    let files = [(user_file(), "[Common]\nServerAddr=USERSRV\n"), (common_file(), "[Common]\nServerAddr=COMMONSRV\n")];
    let r = run(false, &CodeSettings::default(), &files);
    assert_eq!(hosts(&r), ["USERSRV:9099"]);
    assert_eq!(r.file, Some(user_file()));
}

#[test]
fn client_without_a_users_file_reads_the_common_one() {
    let r = run(false, &CodeSettings::default(), &[(common_file(), "[Common]\nServerAddr=COMMONSRV\n")]);
    assert_eq!(hosts(&r), ["COMMONSRV:9099"]);
    assert_eq!(r.file, Some(common_file()));
}

#[test]
fn a_users_file_is_used_whole_even_when_it_sets_less() {
    // "If the user has no file" -- a user's file that exists hides the common one entirely.
    let files = [(user_file(), "[Common]\nServerPort=9100\n"), (common_file(), "[Common]\nServerAddr=COMMONSRV\n")];
    let r = run(false, &CodeSettings::default(), &files);
    assert_eq!(hosts(&r), ["localhost:9100"]);
}

#[test]
fn server_process_reads_only_the_common_file() {
    let files = [(user_file(), "[Common]\nServerAddr=USERSRV\n"), (common_file(), "[Common]\nServerAddr=COMMONSRV\n")];
    let r = run(true, &CodeSettings::default(), &files);
    assert_eq!(hosts(&r), ["COMMONSRV:9099"]);
    let r = run(true, &CodeSettings::default(), &[(user_file(), "[Common]\nServerAddr=USERSRV\n")]);
    assert_eq!(hosts(&r), ["localhost:9099"]);
    assert_eq!(r.file, None);
}

#[test]
fn code_wins_without_force_and_file_fills_the_gaps() {
    let text = "[Common]\nForceUseConfig=0\nServerAddr=FILESRV\nServerPort=9200\nReservedServers=r1,r2:9300\n";
    let r = run(false, &code("CODESRV", None, ""), &[(common_file(), text)]);
    assert_eq!(hosts(&r), ["CODESRV:9200", "r1:9099", "r2:9300"]);
    assert_eq!(r.addr.origin, Origin::Code);
    assert!(matches!(r.port.origin, Origin::File { line: 4, .. }));
    assert!(!r.force_use_config);
}

#[test]
fn force_use_config_makes_the_file_win_key_by_key() {
    let text = "[Common]\nForceUseConfig=1\nServerAddr=FILESRV\n";
    let r = run(false, &code("CODESRV", Some(9500), "c1"), &[(common_file(), text)]);
    assert!(r.force_use_config);
    assert_eq!(hosts(&r), ["FILESRV:9500", "c1:9099"]);
    assert_eq!(r.port.origin, Origin::Code);
}

#[test]
fn forced_empty_reserved_servers_is_not_a_setting() {
    let text = "[Common]\nForceUseConfig=1\nServerAddr=FILESRV\nReservedServers=\n";
    let r = run(false, &code("CODESRV", None, "c1"), &[(common_file(), text)]);
    assert_eq!(hosts(&r), ["FILESRV:9099", "c1:9099"]);
}

#[test]
fn series_section_wins_over_common_for_its_series_key_by_key() {
    let text = "[Common]\nServerAddr=COMMONSRV\nServerPort=9200\nReservedServers=r1\n\
                [672b]\nForceUseConfig=1\nServerAddr=SERVER2\n[1234]\nServerAddr=OTHER\nServerPort=1\n";
    let r = run(false, &code("CODESRV", None, ""), &[(common_file(), text)]);
    assert_eq!(hosts(&r), ["SERVER2:9200", "r1:9099"]);
    assert!(r.force_use_config);
    match &r.addr.origin {
        Origin::File { section, line, .. } => assert_eq!((section.as_str(), *line), ("672b", 7)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_series_force_does_not_apply() {
    let text = "[Common]\nServerAddr=COMMONSRV\n[1234]\nForceUseConfig=1\n";
    let r = run(false, &code("CODESRV", None, ""), &[(common_file(), text)]);
    assert_eq!(hosts(&r), ["CODESRV:9099"]);
}

#[test]
fn malformed_values_are_reported_with_file_and_line_and_ignored() {
    let text = "[Common]\nForceUseConfig=yes\nServerPort=70000\nServerAddr=COMMONSRV\ngarbage line\n\
                [672B]\nServerPort=abc\nReservedServers=ok1, bad:0\nColour=blue\n[Nonsense]\nA=1\n";
    let r = run(false, &CodeSettings::default(), &[(common_file(), text)]);
    assert_eq!(hosts(&r), ["COMMONSRV:9099", "ok1:9099"]);
    assert!(!r.force_use_config);
    let lines: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
    let expect_line = |n: usize, word: &str| {
        let prefix = format!("/r/common/licenceaddin.conf:{n}: ");
        assert!(lines.iter().any(|l| l.starts_with(&prefix) && l.contains(word)), "line {n} `{word}` in {lines:#?}");
    };
    expect_line(2, "yes");
    expect_line(3, "70000");
    expect_line(5, "garbage");
    expect_line(7, "abc");
    expect_line(8, "bad:0");
    expect_line(9, "Colour");
    expect_line(11, "Nonsense");
}

#[test]
fn a_bad_series_value_falls_back_to_common() {
    let text = "[Common]\nServerPort=9200\n[672B]\nServerPort=abc\n";
    let r = run(false, &CodeSettings::default(), &[(common_file(), text)]);
    assert_eq!(r.port.value, 9200);
}

#[test]
fn bad_code_settings_are_reported_and_ignored() {
    let r = run(false, &code("a b", None, "x:0,y"), &[(common_file(), "[Common]\nServerAddr=FILESRV\n")]);
    assert_eq!(hosts(&r), ["FILESRV:9099", "y:9099"]);
    assert!(r.problems.iter().all(|p| p.source == "configuration" && p.line == 0));
    assert_eq!(r.problems.len(), 2);
}

#[test]
fn reserved_repeats_of_the_main_server_are_dropped() {
    let r = run(false, &code("srv", Some(9100), "srv:9100,srv,srv"), &[]);
    assert_eq!(hosts(&r), ["srv:9100", "srv:9099"]);
}

#[test]
fn only_the_code_turns_the_local_fallback_on_and_the_file_only_off() {
    let off = run(false, &CodeSettings::default(), &[]);
    assert_eq!(off.local_fallback, Sourced { value: false, origin: Origin::Default });

    let file_says_yes = run(false, &CodeSettings::default(), &[(user_file(), "[672B]\nLocalFallback=1\n")]);
    assert!(!file_says_yes.local_fallback.value, "a file any user can write cannot turn it on");
    assert_eq!(
        file_says_yes.problems[0].to_string(),
        "/r/user/licenceaddin.conf:2: LocalFallback=1: only the configuration's code can turn the local \
         fallback on; the file can only turn it off (LocalFallback=0)"
    );

    let by_code = CodeSettings { local_fallback: Some(true), ..CodeSettings::default() };
    assert_eq!(run(false, &by_code, &[]).local_fallback, Sourced { value: true, origin: Origin::Code });
    let both = run(false, &by_code, &[(common_file(), "[Common]\nLocalFallback=1\n")]);
    assert_eq!(both.local_fallback, Sourced { value: true, origin: Origin::Code });

    let file_says_no = run(false, &by_code, &[(user_file(), "[672B]\nLocalFallback=0\n")]);
    assert!(!file_says_no.local_fallback.value);
    assert_eq!(file_says_no.local_fallback.origin, Origin::File { path: user_file(), section: "672B".into(), line: 2 });
    let other_series = run(false, &by_code, &[(user_file(), "[1A2B]\nLocalFallback=0\n")]);
    assert!(other_series.local_fallback.value);

    let code_says_no = CodeSettings { local_fallback: Some(false), ..CodeSettings::default() };
    let forced = "[Common]\nForceUseConfig=1\nLocalFallback=1\n";
    assert!(!run(false, &code_says_no, &[(common_file(), forced)]).local_fallback.value);

    let bad = run(false, &CodeSettings::default(), &[(user_file(), "[Common]\nLocalFallback=yes\n")]);
    assert!(!bad.local_fallback.value);
    assert_eq!(bad.problems[0].to_string(), "/r/user/licenceaddin.conf:2: LocalFallback: `yes` is not 0 or 1");
}

#[test]
fn keep_previous_logs_is_read_per_series_too() {
    let r = run(false, &CodeSettings::default(), &[(common_file(), "[Common]\nKeepPreviousLogs=1\n")]);
    assert!(r.keep_previous_logs);
    let text = "[Common]\nKeepPreviousLogs=1\n[672B]\nKeepPreviousLogs=0\n";
    let r = run(false, &CodeSettings::default(), &[(common_file(), text)]);
    assert!(!r.keep_previous_logs);
}

#[test]
fn the_guides_example_file_reads_as_documented() {
    let text =
        "\u{feff}[Common]\n; comment\nForceUseConfig=0\nServerAddr=localhost\nServerPort=9099\nReservedServers=\n\
                [672B]\nForceUseConfig=1\nServerAddr=SERVER2\nServerPort=9099\nReservedServers=\n";
    let r = run(false, &code("CODESRV", Some(9100), ""), &[(common_file(), text)]);
    assert_eq!(hosts(&r), ["SERVER2:9099"]);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let other: SeriesId = "1111".parse().unwrap();
    let files: HashMap<PathBuf, String> = [(common_file(), text.to_owned())].into_iter().collect();
    let r = resolve(false, other, &code("CODESRV", Some(9100), ""), &places(), |p| files.get(p).cloned());
    assert_eq!(hosts(&r), ["CODESRV:9100"]);
}

#[test]
fn files_on_disk_are_found_in_the_relocated_tree() {
    let root = std::env::temp_dir().join(format!("licenceaddin-conf-{}", std::process::id()));
    let places = Places::under_root(&root);
    std::fs::create_dir_all(&places.common).unwrap();
    std::fs::write(places.common.join(FILE_NAME), "[Common]\nServerAddr=DISKSRV\nServerPort=9300\n").unwrap();
    let r = resolve_from_disk(false, series(), &CodeSettings::default(), &places);
    assert_eq!(hosts(&r), ["DISKSRV:9300"]);
    std::fs::create_dir_all(places.user.as_ref().unwrap().join(FILE_NAME)).unwrap();
    // A folder where the user's file should be: reported, treated as missing, so the common file is read.
    let r = resolve_from_disk(false, series(), &CodeSettings::default(), &places);
    assert_eq!(hosts(&r), ["DISKSRV:9300"]);
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn server_addr_takes_no_port() {
    assert_eq!(parse_host("[::1]").unwrap(), "::1");
    assert_eq!(parse_host("::1").unwrap(), "::1");
    assert!(parse_host("srv:9100").unwrap_err().contains("ServerPort"));
    let text = "[Common]\nServerAddr=srv:9100\n";
    let r = run(false, &CodeSettings::default(), &[(common_file(), text)]);
    assert_eq!(hosts(&r), ["localhost:9099"]);
    assert_eq!(r.problems[0].line, 2);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("[Common]".to_owned()),
            Just("[672B]".to_owned()),
            "\\[[0-9A-Za-z ]{0,6}\\]?",
            "(ForceUseConfig|ServerAddr|ServerPort|ReservedServers|KeepPreviousLogs|Other)=[0-9a-z:,\\[\\]. ]{0,20}",
            ".{0,30}",
        ]
    }

    fn endpoint() -> impl Strategy<Value = Endpoint> {
        let host =
            prop_oneof!["[a-z][a-z0-9-]{0,10}", "10\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}", Just("::1".to_owned())];
        (host, 1u16..).prop_map(|(h, p)| Endpoint::new(h, p))
    }

    proptest! {
        #[test]
        fn any_file_resolves_to_servers_and_problems_on_its_lines(
            lines in proptest::collection::vec(line(), 0..20),
            is_server: bool,
        ) {
            let text = lines.join("\n");
            let r = run(is_server, &CodeSettings::default(), &[(common_file(), text.as_str())]);
            prop_assert!(!r.endpoints.is_empty());
            prop_assert!(r.endpoints.iter().all(|e| e.port > 0 && !e.host.is_empty()));
            for p in &r.problems {
                prop_assert!(p.line >= 1 && p.line <= lines.len().max(1), "{p}");
            }
        }

        #[test]
        fn a_written_server_list_reads_back(list in proptest::collection::vec(endpoint(), 0..6)) {
            let text = list.iter().map(Endpoint::to_string).collect::<Vec<_>>().join(",");
            let (read, bad) = parse_server_list(&text);
            prop_assert_eq!(read, list);
            prop_assert!(bad.is_empty());
        }
    }
}
