#!/usr/bin/env bash
# Bootstrap a Google Cloud project (with billing linked) for SalesSphere, once, before the
# first `pulumi up`. Idempotent: every step checks whether its result already exists and
# does nothing if so, so the script can be rerun after a failure or on a ready project.
#
#   PROJECT=salesphere-dev GITHUB_REPO=acme/salesphere scripts/bootstrap-project.sh
#   ... --dry-run    prints the plan (each step as `if ! <check>; then <apply>; fi`), runs nothing
#
# What it does (docs/infra.md, "Bootstrap a new project"):
#   1. enables the APIs the program cannot enable itself (Service Usage, Resource Manager)
#      plus IAM, IAM Credentials, STS (Workload Identity Federation) and Cloud KMS;
#   2. creates the Pulumi state bucket and the KMS key for stack secrets;
#   3. creates the CI deploy service account with exactly the roles in DEPLOY_ROLES;
#   4. creates the GitHub workload identity pool + provider (this repository only) and lets
#      it impersonate the deploy account.
# Variables: PROJECT (required), GITHUB_REPO (owner/name, required), REGION (us-central1),
# STATE_BUCKET (<project>-pulumi-state), DEPLOY_ACCOUNT (salesphere-deploy),
# CI_PROJECT=1 for the project PR stacks share (the smoke test mints ID tokens as the
# deploy account, so it may create tokens for itself).
set -euo pipefail

DRY_RUN=false
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=true ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown argument $arg (use --dry-run)" >&2; exit 2 ;;
  esac
done

: "${PROJECT:?set PROJECT to the project id, e.g. PROJECT=salesphere-dev}"
: "${GITHUB_REPO:?set GITHUB_REPO to owner/name of the repository that deploys}"
REGION="${REGION:-us-central1}"
STATE_BUCKET="${STATE_BUCKET:-$PROJECT-pulumi-state}"
DEPLOY_ACCOUNT="${DEPLOY_ACCOUNT:-salesphere-deploy}"
DEPLOY_EMAIL="$DEPLOY_ACCOUNT@$PROJECT.iam.gserviceaccount.com"
POOL=github
PROVIDER=github
KEYRING=pulumi
KEY=state
CI_PROJECT="${CI_PROJECT:-0}"

# storage: the state bucket below is created before Pulumi runs (most new projects have
# it on, not every one).
BOOTSTRAP_APIS=(
  cloudresourcemanager.googleapis.com
  serviceusage.googleapis.com
  storage.googleapis.com
  iam.googleapis.com
  iamcredentials.googleapis.com
  sts.googleapis.com
  cloudkms.googleapis.com
)
# What `pulumi up` (and templates.yml) does as the deploy account, one role per kind of
# resource the program manages; docs/infra.md lists why each is needed.
DEPLOY_ROLES=(
  roles/serviceusage.serviceUsageAdmin
  roles/resourcemanager.projectIamAdmin
  roles/iam.serviceAccountAdmin
  roles/iam.serviceAccountUser
  roles/pubsub.admin
  roles/storage.admin
  roles/bigquery.dataOwner
  roles/secretmanager.admin
  roles/cloudfunctions.admin
  roles/run.admin
  roles/cloudscheduler.admin
  roles/artifactregistry.admin
  roles/dataflow.admin
)

# step <id> <check> <apply>: run <apply> only when <check> fails.
step() {
  local id="$1" check="$2" apply="$3"
  if [ "$DRY_RUN" = true ]; then
    printf '# %s\nif ! %s; then\n  %s\nfi\n' "$id" "$check" "$apply"
    return
  fi
  export BOOTSTRAP_STEP="$id"
  if eval "$check" >/dev/null 2>&1; then
    echo "ok      $id"
  else
    echo "create  $id"
    eval "$apply"
  fi
}

has() {  # has <command...>: true when the command prints something
  [ -n "$("$@" 2>/dev/null)" ]
}

project_binding() {  # project_binding <role> <member>: the check for one project role
  echo "has gcloud projects get-iam-policy $PROJECT --flatten=bindings[].members --filter='bindings.role=$1 AND bindings.members=$2' --format='value(bindings.role)'"
}

for api in "${BOOTSTRAP_APIS[@]}"; do
  step "api $api" \
    "has gcloud services list --project=$PROJECT --enabled --filter=config.name=$api --format='value(config.name)'" \
    "gcloud services enable $api --project=$PROJECT"
done

step "state bucket gs://$STATE_BUCKET" \
  "gcloud storage buckets describe gs://$STATE_BUCKET --project=$PROJECT" \
  "gcloud storage buckets create gs://$STATE_BUCKET --project=$PROJECT --location=$REGION --uniform-bucket-level-access --public-access-prevention --soft-delete-duration=0"

step "kms keyring $KEYRING" \
  "gcloud kms keyrings describe $KEYRING --location=global --project=$PROJECT" \
  "gcloud kms keyrings create $KEYRING --location=global --project=$PROJECT"

step "kms key $KEY" \
  "gcloud kms keys describe $KEY --keyring=$KEYRING --location=global --project=$PROJECT" \
  "gcloud kms keys create $KEY --keyring=$KEYRING --location=global --purpose=encryption --project=$PROJECT"

step "service account $DEPLOY_EMAIL" \
  "gcloud iam service-accounts describe $DEPLOY_EMAIL --project=$PROJECT" \
  "gcloud iam service-accounts create $DEPLOY_ACCOUNT --display-name='SalesSphere CI deploy (Pulumi)' --project=$PROJECT"

for role in "${DEPLOY_ROLES[@]}"; do
  step "deploy role $role" \
    "$(project_binding "$role" "serviceAccount:$DEPLOY_EMAIL")" \
    "gcloud projects add-iam-policy-binding $PROJECT --member=serviceAccount:$DEPLOY_EMAIL --role=$role --condition=None --quiet"
done

step "deploy uses the state bucket" \
  "has gcloud storage buckets get-iam-policy gs://$STATE_BUCKET --flatten=bindings[].members --filter='bindings.role=roles/storage.objectAdmin AND bindings.members=serviceAccount:$DEPLOY_EMAIL' --format='value(bindings.role)'" \
  "gcloud storage buckets add-iam-policy-binding gs://$STATE_BUCKET --member=serviceAccount:$DEPLOY_EMAIL --role=roles/storage.objectAdmin"

step "deploy encrypts stack secrets" \
  "has gcloud kms keys get-iam-policy $KEY --keyring=$KEYRING --location=global --project=$PROJECT --flatten=bindings[].members --filter='bindings.role=roles/cloudkms.cryptoKeyEncrypterDecrypter AND bindings.members=serviceAccount:$DEPLOY_EMAIL' --format='value(bindings.role)'" \
  "gcloud kms keys add-iam-policy-binding $KEY --keyring=$KEYRING --location=global --project=$PROJECT --member=serviceAccount:$DEPLOY_EMAIL --role=roles/cloudkms.cryptoKeyEncrypterDecrypter"

if [ "$CI_PROJECT" = 1 ]; then
  step "deploy mints its own ID tokens (PR smoke test)" \
    "has gcloud iam service-accounts get-iam-policy $DEPLOY_EMAIL --project=$PROJECT --flatten=bindings[].members --filter='bindings.role=roles/iam.serviceAccountTokenCreator AND bindings.members=serviceAccount:$DEPLOY_EMAIL' --format='value(bindings.role)'" \
    "gcloud iam service-accounts add-iam-policy-binding $DEPLOY_EMAIL --project=$PROJECT --member=serviceAccount:$DEPLOY_EMAIL --role=roles/iam.serviceAccountTokenCreator"
fi

step "workload identity pool $POOL" \
  "gcloud iam workload-identity-pools describe $POOL --location=global --project=$PROJECT" \
  "gcloud iam workload-identity-pools create $POOL --location=global --display-name='GitHub Actions' --project=$PROJECT"

step "workload identity provider $PROVIDER" \
  "gcloud iam workload-identity-pools providers describe $PROVIDER --workload-identity-pool=$POOL --location=global --project=$PROJECT" \
  "gcloud iam workload-identity-pools providers create-oidc $PROVIDER --workload-identity-pool=$POOL --location=global --project=$PROJECT --issuer-uri=https://token.actions.githubusercontent.com --attribute-mapping=google.subject=assertion.sub,attribute.repository=assertion.repository --attribute-condition=\"assertion.repository=='$GITHUB_REPO'\""

NUMBER_CMD="\$(gcloud projects describe $PROJECT --format='value(projectNumber)')"
PRINCIPALS="principalSet://iam.googleapis.com/projects/$NUMBER_CMD/locations/global/workloadIdentityPools/$POOL/attribute.repository/$GITHUB_REPO"
step "GitHub ($GITHUB_REPO) impersonates the deploy account" \
  "has gcloud iam service-accounts get-iam-policy $DEPLOY_EMAIL --project=$PROJECT --flatten=bindings[].members --filter='bindings.role=roles/iam.workloadIdentityUser AND bindings.members:attribute.repository/$GITHUB_REPO' --format='value(bindings.role)'" \
  "gcloud iam service-accounts add-iam-policy-binding $DEPLOY_EMAIL --project=$PROJECT --role=roles/iam.workloadIdentityUser --member=\"$PRINCIPALS\""

if [ "$DRY_RUN" = false ]; then
  cat <<EOF

Done. Repository variables for GitHub Actions:
  GCP_WIF_PROVIDER=projects/<number>/locations/global/workloadIdentityPools/$POOL/providers/$PROVIDER
  GCP_DEPLOY_SERVICE_ACCOUNT=$DEPLOY_EMAIL
  PULUMI_BACKEND_URL=gs://$STATE_BUCKET
Then: pulumi login gs://$STATE_BUCKET && pulumi stack init <stack> \\
  --secrets-provider=gcpkms://projects/$PROJECT/locations/global/keyRings/$KEYRING/cryptoKeys/$KEY
EOF
fi
