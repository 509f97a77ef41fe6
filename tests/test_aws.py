"""provision.py and cleanup.py --aws against moto's IAM, EC2 and Redshift (AWS APIs faked with moto;
no SQL is faked anywhere)."""

import dataclasses
import fnmatch
import json
import os
import stat

import boto3
import pytest

moto = pytest.importorskip("moto")

import cleanup  # noqa: E402
import provision  # noqa: E402
from sparkify import aws, teardown  # noqa: E402
from sparkify.errors import AwsError, ConfigError  # noqa: E402
from sparkify.config import load_config  # noqa: E402
from conftest import AWS_REGION, COURSE, without_target  # noqa: E402

REGION = AWS_REGION
MY_IP = "52.1.2.3"
TAG = [{"Key": "project", "Value": "sparkify-dwh"}]
UDACITY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "List0", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::udacity-dend",
         "Condition": {"StringLike": {"s3:prefix": ["log_data*", "song_data*", "log_json_path.json"]}}},
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": ["arn:aws:s3:::udacity-dend/log_data*", "arn:aws:s3:::udacity-dend/song_data*",
                      "arn:aws:s3:::udacity-dend/log_json_path.json"]},
    ],
}



def allows(policy, action, bucket, name):
    """Whether ``policy`` lets ``action`` at ``name`` (a key to GET, or a prefix to LIST with):
    the IAM rules as far as these documents use them (Allow only; * in Resource and StringLike)."""
    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Effect"] != "Allow" or statement["Action"] != action:
            continue
        if action == "s3:ListBucket":
            patterns = statement["Condition"]["StringLike"]["s3:prefix"]
            if f"arn:aws:s3:::{bucket}" in resources and any(fnmatch.fnmatchcase(name, p) for p in patterns):
                return True
        elif any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}/{name}", r) for r in resources):
            return True
    return False


@pytest.mark.parametrize("log_data, song_data, jsonpaths", [
    ("s3://udacity-dend/log_data", "s3://udacity-dend/song_data", "s3://udacity-dend/log_json_path.json"),
    ("s3://logs/app/events/", "s3://songs/catalog", "s3://config-bucket/paths/events.jsonpaths"),
])
def test_the_role_may_list_and_read_every_object_a_copy_reads_and_nothing_else(log_data, song_data, jsonpaths):
    """Redshift's COPY lists each FROM prefix and reads what it finds, and lists and reads the
    JSONPaths file ("IAM permissions for COPY, UNLOAD, and CREATE LIBRARY")."""
    policy = aws.role_policy(aws.Settings(region=REGION, log_data=log_data, log_jsonpath=jsonpaths,
                                          song_data=song_data))
    for uri, objects in ((log_data, ["2018/11/2018-11-01-events.json"]), (song_data, ["/A/A/A/TRAAAAK.json"]),
                         (jsonpaths, [""])):
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        assert allows(policy, "s3:ListBucket", bucket, prefix), uri
        for name in objects:
            assert allows(policy, "s3:GetObject", bucket, prefix + name), uri + name
    bucket, _, prefix = jsonpaths[len("s3://"):].partition("/")
    for action, name in (("s3:ListBucket", ""), ("s3:GetObject", "other.json"), ("s3:ListBucket", prefix + "x/")):
        assert not allows(policy, action, bucket, name)
    assert not allows(policy, "s3:PutObject", bucket, prefix)

@pytest.fixture
def account(fake_aws, monkeypatch):
    monkeypatch.delenv("SPARKIFY_DB_PASSWORD", raising=False)
    monkeypatch.setattr(aws, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(teardown, "POLL_SECONDS", 0.01)
    return {"iam": boto3.client("iam", region_name=REGION), "ec2": boto3.client("ec2", region_name=REGION),
            "redshift": boto3.client("redshift", region_name=REGION)}


def state(clients):
    """Everything of the account that provisioning could touch."""
    groups = clients["ec2"].describe_security_groups()["SecurityGroups"]
    return {
        "clusters": [c["ClusterIdentifier"] for c in clients["redshift"].describe_clusters()["Clusters"]],
        "roles": [r["RoleName"] for r in clients["iam"].list_roles()["Roles"]],
        "security groups": sorted(g["GroupName"] for g in groups if g["GroupName"] != "default"),
    }


EMPTY = {"clusters": [], "roles": [], "security groups": []}


def test_the_role_may_read_only_the_configured_prefixes():
    settings = aws.Settings(region=REGION, log_data="s3://udacity-dend/log_data",
                            log_jsonpath="s3://udacity-dend/log_json_path.json", song_data="s3://udacity-dend/song_data")
    assert aws.role_policy(settings) == UDACITY_POLICY
    two_buckets = aws.s3_read_policy(["s3://logs-bucket/app/events", "s3://songs-bucket/catalog"],
                                     ["s3://logs-bucket/paths.json"])
    assert two_buckets["Statement"] == [
        {"Sid": "List0", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::logs-bucket",
         "Condition": {"StringLike": {"s3:prefix": ["app/events*", "paths.json"]}}},
        {"Sid": "List1", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::songs-bucket",
         "Condition": {"StringLike": {"s3:prefix": ["catalog*"]}}},
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": ["arn:aws:s3:::logs-bucket/app/events*", "arn:aws:s3:::songs-bucket/catalog*",
                      "arn:aws:s3:::logs-bucket/paths.json"]}]
    assert aws.trust_policy()["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "redshift.amazonaws.com"},
                                               "Action": "sts:AssumeRole"}]


def test_the_role_may_read_the_runs_manifests_and_the_config_names_them():
    settings = aws.Settings(region=REGION, log_data="s3://udacity-dend/log_data",
                            log_jsonpath="s3://udacity-dend/log_json_path.json", song_data="s3://udacity-dend/song_data",
                            manifest_prefix="s3://my-runs/sparkify/manifests/")
    policy = aws.role_policy(settings)
    assert allows(policy, "s3:GetObject", "my-runs", "sparkify/manifests/20261201T0600-ab12cd34/staging_songs.manifest")
    assert not allows(policy, "s3:GetObject", "my-runs", "other/file.json")
    assert allows(policy, "s3:GetObject", "udacity-dend", "log_data/2018/11/2018-11-01-events.json")
    text = aws.config_text(settings, aws.Provisioned(host="h", port=5439, role_arn="arn:aws:iam::1:role/r"), "pw")
    assert "\nMANIFEST_PREFIX=s3://my-runs/sparkify/manifests/\n" in text
    with pytest.raises(ConfigError, match="--manifest-prefix is not a valid S3 URI"):
        dataclasses.replace(settings, manifest_prefix="my-runs/manifests").check()


def test_generated_passwords_meet_redshift_rules():
    for _ in range(200):
        password = aws.generate_password()
        assert len(password) == 24 and password.isalnum()
        assert any(c.isupper() for c in password) and any(c.islower() for c in password)
        assert any(c.isdigit() for c in password)


def test_public_provision_writes_the_config_and_teardown_leaves_nothing(account, tmp_path, capsys):
    cfg = tmp_path / "dwh.cfg"
    assert provision.main(["--config", str(cfg), "--public", "--my-ip", MY_IP, "--nodes", "2", "-q"]) == 0
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
    config = load_config(cfg, environ={})
    cluster = account["redshift"].describe_clusters(ClusterIdentifier="sparkify-dwh")["Clusters"][0]
    role = account["iam"].get_role(RoleName="sparkify-dwh-s3-read")["Role"]
    group_id = config.aws.security_group_id
    group = account["ec2"].describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    # the config points at what was created
    assert (config.cluster.host, config.cluster.port, config.cluster.engine) == (
        cluster["Endpoint"]["Address"], 5439, "redshift")
    assert (config.cluster.dbname, config.cluster.user, len(config.cluster.password)) == ("dwh", "dwhuser", 24)
    assert config.iam_role_arn == role["Arn"]
    assert (config.sources.log_data, config.sources.region) == ("s3://udacity-dend/log_data", "us-west-2")
    assert (config.aws.region, config.aws.cluster_id, config.aws.role_name) == (REGION, "sparkify-dwh",
                                                                                 "sparkify-dwh-s3-read")
    # what was created, each tagged
    assert cluster["Tags"] == TAG and role["Tags"] == TAG and group["Tags"] == TAG
    assert (cluster["PubliclyAccessible"], cluster["Encrypted"], cluster["NumberOfNodes"]) == (True, True, 2)
    assert [r["IamRoleArn"] for r in cluster["IamRoles"]] == [role["Arn"]]
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [group_id]
    assert [(p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]])
            for p in group["IpPermissions"]] == [("tcp", 5439, 5439, [f"{MY_IP}/32"])]
    policy = account["iam"].get_role_policy(RoleName="sparkify-dwh-s3-read", PolicyName=aws.POLICY_NAME)
    assert policy["PolicyDocument"] == UDACITY_POLICY
    assert account["iam"].list_attached_role_policies(RoleName="sparkify-dwh-s3-read")["AttachedPolicies"] == []
    # the password never reaches the output
    out, err = capsys.readouterr()
    err = without_target(err)
    assert config.cluster.password not in out + err

    assert cleanup.main(["--config", str(cfg), "--aws", "--yes", "-q"]) == 0
    assert state(account) == EMPTY


def test_private_by_default_with_no_inbound_rule(account, tmp_path):
    cfg = tmp_path / "dwh.cfg"
    assert provision.main(["--config", str(cfg), "-q"]) == 0
    cluster = account["redshift"].describe_clusters(ClusterIdentifier="sparkify-dwh")["Clusters"][0]
    assert (cluster["PubliclyAccessible"], cluster["NumberOfNodes"], cluster["NodeType"]) == (False, 1, "ra3.large")
    assert state(account) == {"clusters": ["sparkify-dwh"], "roles": ["sparkify-dwh-s3-read"], "security groups": []}
    assert load_config(cfg, environ={}).aws.security_group_id is None
    assert cleanup.main(["--config", str(cfg), "--aws", "--yes", "-q"]) == 0
    assert state(account) == EMPTY


def test_running_provision_again_reuses_what_it_created(account, tmp_path):
    cfg = tmp_path / "dwh.cfg"
    assert provision.main(["--config", str(cfg), "-q"]) == 0
    assert provision.main(["--config", str(cfg), "-q", "--overwrite"]) == 0
    assert state(account) == {"clusters": ["sparkify-dwh"], "roles": ["sparkify-dwh-s3-read"], "security groups": []}


def test_an_existing_config_is_never_overwritten_unasked(account, tmp_path, capsys):
    cfg = tmp_path / "dwh.cfg"
    cfg.write_text("[S3]\nLOG_DATA=mine\n")
    assert provision.main(["--config", str(cfg), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == f"error: {cfg} exists: not overwriting it (pass --config NEW.cfg, or --overwrite)\n"
    assert cfg.read_text() == "[S3]\nLOG_DATA=mine\n"
    assert state(account) == EMPTY  # checked before any AWS call


def test_provision_refuses_a_role_it_did_not_create(account, tmp_path, capsys):
    account["iam"].create_role(RoleName="sparkify-dwh-s3-read", AssumeRolePolicyDocument=json.dumps(aws.trust_policy()))
    assert provision.main(["--config", str(tmp_path / "dwh.cfg"), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == (
        "error: IAM role sparkify-dwh-s3-read exists and has no project=sparkify-dwh tag, so this project did not"
        " create it: pass another --role-name\n")
    assert state(account) == {"clusters": [], "roles": ["sparkify-dwh-s3-read"], "security groups": []}
    assert account["iam"].list_role_policies(RoleName="sparkify-dwh-s3-read")["PolicyNames"] == []


def test_teardown_refuses_untagged_resources_and_deletes_nothing(account, tmp_path, capsys):
    cfg = tmp_path / "dwh.cfg"
    assert provision.main(["--config", str(cfg), "-q"]) == 0
    account["redshift"].delete_cluster(ClusterIdentifier="sparkify-dwh", SkipFinalClusterSnapshot=True)
    account["redshift"].create_cluster(ClusterIdentifier="sparkify-dwh", NodeType="ra3.large",
                                       ClusterType="single-node", MasterUsername="someone",
                                       MasterUserPassword="Someone's1")  # same name, not ours: no tag
    before = state(account)
    assert cleanup.main(["--config", str(cfg), "--aws", "--yes", "-q"]) == 1
    assert without_target(capsys.readouterr().err) == ("error: not deleting anything: Redshift cluster sparkify-dwh has no"
                                       " project=sparkify-dwh tag, so this project did not create it\n")
    assert state(account) == before  # the (tagged) role is still there too


def test_teardown_asks_first_and_lists_what_it_deletes(account, tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "dwh.cfg"
    assert provision.main(["--config", str(cfg), "--public", "--my-ip", MY_IP, "-q"]) == 0
    group_id = load_config(cfg, environ={}).aws.security_group_id
    assert cleanup.main(["--config", str(cfg), "--aws", "-q"]) == 1  # not a terminal, no --yes
    out, err = capsys.readouterr()
    err = without_target(err)
    assert out.splitlines() == [
        f"will delete, in {REGION}:",
        "  Redshift cluster sparkify-dwh (no final snapshot), with every table in it",
        f"  security group {group_id} (tcp 5439 from {MY_IP}/32)",
        f"  IAM role sparkify-dwh-s3-read (inline policy {aws.POLICY_NAME})"]
    assert err == "error: not deleting AWS resources without confirmation: run with --yes\n"
    assert state(account)["clusters"] == ["sparkify-dwh"]
    # a terminal that answers no
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda question: "n")
    assert cleanup.main(["--config", str(cfg), "--aws", "-q"]) == 1
    assert state(account)["clusters"] == ["sparkify-dwh"]
    # and one that answers yes, keeping a final snapshot
    monkeypatch.setattr("builtins.input", lambda question: "y")
    assert cleanup.main(["--config", str(cfg), "--aws", "--final-snapshot", "sparkify-final", "-q"]) == 0
    assert state(account) == EMPTY
    snapshots = account["redshift"].describe_cluster_snapshots()["Snapshots"]
    assert [s["SnapshotIdentifier"] for s in snapshots] == ["sparkify-final"]


def test_only_the_parts_asked_for_are_deleted(account, tmp_path):
    cfg = tmp_path / "dwh.cfg"
    assert provision.main(["--config", str(cfg), "--public", "--my-ip", MY_IP, "-q"]) == 0
    assert cleanup.main(["--config", str(cfg), "--cluster", "--yes", "-q"]) == 0
    assert state(account) == {"clusters": [], "roles": ["sparkify-dwh-s3-read"],
                              "security groups": ["sparkify-dwh-inbound"]}
    assert cleanup.main(["--config", str(cfg), "--aws", "--yes", "-q"]) == 0  # the rest; the cluster is gone
    assert state(account) == EMPTY


def test_a_failure_midway_records_what_was_created(account, tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "dwh.cfg"
    real_call = aws.Aws.call

    def failing_create(self, service, operation, what, **params):
        if operation == "create_cluster":
            raise AwsError(f"{what} failed: ClusterQuotaExceeded: quota reached")
        return real_call(self, service, operation, what, **params)

    monkeypatch.setattr(aws.Aws, "call", failing_create)
    assert provision.main(["--config", str(cfg), "-q"]) == 1
    assert without_target(capsys.readouterr().err) == (
        "error: creating Redshift cluster sparkify-dwh failed: ClusterQuotaExceeded: quota reached; created so far:"
        f" IAM role sparkify-dwh-s3-read, recorded in {cfg}: run provision.py again to go on, or"
        f" `python cleanup.py --config {cfg} --aws` to remove them\n")
    monkeypatch.setattr(aws.Aws, "call", real_call)
    assert cleanup.main(["--config", str(cfg), "--aws", "--yes", "-q"]) == 0
    assert state(account) == EMPTY


def test_dry_runs_make_no_aws_call(tmp_path, monkeypatch, capsys):
    def no_aws(self, service):
        raise AssertionError(f"{service} called in a dry run")

    monkeypatch.setattr(aws.Aws, "client", no_aws)
    cfg = tmp_path / "dwh.cfg"
    assert provision.main(["--config", str(cfg), "--dry-run", "--public", "--my-ip", MY_IP]) == 0
    plan = capsys.readouterr().out.splitlines()
    assert plan[0] == "region us-west-2" and plan[1] == "sts.get_caller_identity()"
    assert json.loads(plan[3].split("PolicyDocument=", 1)[1][:-1]) == UDACITY_POLICY
    assert "PubliclyAccessible=True" in plan[-2] and "<generated, written to the config only>" in plan[-2]
    assert not cfg.exists()
    cfg.write_text("[AWS]\nREGION=us-west-2\nCLUSTER_ID=sparkify-dwh\nROLE_NAME=sparkify-dwh-s3-read\n"
                   "SECURITY_GROUP_ID=sg-0123456789abcdef0\n")
    assert cleanup.main(["--config", str(cfg), "--aws", "--dry-run"]) == 0
    plan = capsys.readouterr().out.splitlines()
    assert plan[-6:] == [
        "redshift.delete_cluster(ClusterIdentifier='sparkify-dwh', SkipFinalClusterSnapshot=True)",
        "redshift.describe_clusters(...) every 15s until the cluster is gone",
        "ec2.revoke_security_group_ingress(GroupId='sg-0123456789abcdef0', <its rules>)",
        "ec2.delete_security_group(GroupId='sg-0123456789abcdef0')",
        "iam.delete_role_policy(RoleName='sparkify-dwh-s3-read', PolicyName=<each inline policy>)",
        "iam.delete_role(RoleName='sparkify-dwh-s3-read')"]


@pytest.mark.parametrize("args, message", [
    (["--public", "--my-ip", "10.0.0.5"], "--my-ip is not a valid public IPv4 address: '10.0.0.5'"),
    (["--cluster-id", "Sparkify_DWH"], "--cluster-id is not a valid cluster identifier (lower case letters, digits"
                                       " and single hyphens, starting with a letter): 'Sparkify_DWH'"),
    (["--log-data", "s3://udacity-dend/log_data' *"], "--log-data is not a valid S3 URI (s3://bucket/prefix):"
                                                      " \"s3://udacity-dend/log_data' *\""),
])
def test_bad_options_are_one_line(tmp_path, capsys, args, message):
    assert provision.main(["--config", str(tmp_path / "dwh.cfg"), "--dry-run", *args]) == 2
    assert without_target(capsys.readouterr().err) == f"error: {message}\n"


def test_cleanup_without_an_aws_section_refuses(tmp_path, capsys):
    cfg = tmp_path / "dwh.cfg"
    cfg.write_text("[S3]\n")
    assert cleanup.main(["--config", str(cfg), "--aws", "--yes"]) == 2
    assert without_target(capsys.readouterr().err) == (f"error: {cfg}: has no [AWS] section: cleanup.py deletes only what"
                                       " provision.py created and recorded there\n")


class StatusSequence(aws.Aws):
    """Redshift answering describe_clusters with the given statuses, one per call (waiting only)."""

    def __init__(self, statuses):
        super().__init__(REGION)
        self.statuses = list(statuses)

    def call(self, service, operation, what, **params):
        assert (service, operation) == ("redshift", "describe_clusters")
        status = self.statuses.pop(0)
        endpoint = {"Endpoint": {"Address": "c.x.us-west-2.redshift.amazonaws.com", "Port": 5439}}
        return {"Clusters": [{"ClusterStatus": status, **(endpoint if status == "available" else {})}]}


def test_waiting_shows_each_status_until_available(monkeypatch, capsys):
    monkeypatch.setattr(aws, "POLL_SECONDS", 0)
    fake = StatusSequence(["creating", "creating", "modifying", "available"])
    assert aws.wait_available("c", fake, True, 30) == ("c.x.us-west-2.redshift.amazonaws.com", 5439)
    assert fake.statuses == []
    progress = without_target(capsys.readouterr().err)
    assert "cluster c: creating" in progress and "cluster c: modifying" in progress


def test_waiting_gives_up_with_what_to_do(monkeypatch):
    monkeypatch.setattr(aws, "POLL_SECONDS", 0)
    with pytest.raises(AwsError) as err:
        aws.wait_available("c", StatusSequence(["creating"]), False, 0)
    assert str(err.value) == ("cluster c is still creating after 0 minutes: run provision.py again to go on waiting"
                              " (nothing is created twice)")


@pytest.fixture
def checkip(monkeypatch):
    """A local stand-in for checkip.amazonaws.com answering with ``answer[0]``."""
    import http.server
    import threading

    answer = ["52.9.9.9\n"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = answer[0].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(aws.CHECKIP_ENV, f"http://127.0.0.1:{server.server_address[1]}/")
    yield answer
    server.shutdown()


def test_public_without_my_ip_asks_checkip(account, tmp_path, checkip):
    cfg = tmp_path / "dwh.cfg"
    assert provision.main(["--config", str(cfg), "--public", "-q"]) == 0
    group_id = load_config(cfg, environ={}).aws.security_group_id
    group = account["ec2"].describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert [r["CidrIp"] for p in group["IpPermissions"] for r in p["IpRanges"]] == ["52.9.9.9/32"]


def test_a_private_answer_from_checkip_is_refused(account, tmp_path, capsys, checkip):
    checkip[0] = "10.1.2.3"
    assert provision.main(["--config", str(tmp_path / "dwh.cfg"), "--public", "-q"]) == 2
    err = without_target(capsys.readouterr().err)
    assert err.startswith("error: http://127.0.0.1:") and err.endswith(
        " says your address is 10.1.2.3, which is not public: pass --my-ip A.B.C.D\n")
    assert state(account) == EMPTY


def test_no_answer_from_checkip_says_to_pass_my_ip(account, tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv(aws.CHECKIP_ENV, f"http://127.0.0.1:{port}/")
    assert provision.main(["--config", str(tmp_path / "dwh.cfg"), "--public", "-q"]) == 2
    err = without_target(capsys.readouterr().err)
    assert err.startswith(f"error: cannot find your public IP address from http://127.0.0.1:{port}/ (")
    assert err.endswith("): pass --my-ip A.B.C.D\n")
    assert state(account) == EMPTY




def test_the_courses_config_says_what_to_provision(account, tmp_path, monkeypatch, capsys):
    """[DWH] gives the cluster, [AWS] KEY and SECRET the credentials; the config written keeps both."""
    cfg = tmp_path / "dwh.cfg"
    cfg.write_text(COURSE)
    clients = []
    real = aws.Aws.__init__

    def spy(self, region, key=None, secret=None):
        clients.append((region, key, secret))
        real(self, region, key, secret)

    monkeypatch.setattr(aws.Aws, "__init__", spy)
    monkeypatch.delenv("SPARKIFY_DB_PASSWORD", raising=False)
    assert provision.main(["--config", str(cfg), "--overwrite", "-q"]) == 0
    cluster = account["redshift"].describe_clusters(ClusterIdentifier="dwhcluster")["Clusters"][0]
    assert (cluster["NodeType"], cluster["NumberOfNodes"], cluster["DBName"], cluster["MasterUsername"]) == (
        "dc2.large", 4, "dwh", "dwhuser")
    assert [r["IamRoleArn"].rsplit("/", 1)[1] for r in cluster["IamRoles"]] == ["dwhRole"]
    assert clients == [(REGION, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]
    config = load_config(cfg, environ={})
    assert (config.cluster.password, config.aws.cluster_id, config.provisioning.nodes) == ("Passw0rd", "dwhcluster", 4)
    assert config.sources.access.key == "AKIAIOSFODNN7EXAMPLE"
    assert "Passw0rd" not in "".join(capsys.readouterr())
    # an option given wins over [DWH]
    assert provision.main(["--config", str(cfg), "--dry-run", "--nodes", "2", "--cluster-id", "other"]) == 0
    assert "ClusterIdentifier='other', NodeType='dc2.large', ClusterType='multi-node'" in capsys.readouterr().out
