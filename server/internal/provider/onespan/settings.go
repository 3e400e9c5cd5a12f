package onespan

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"unicode"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// OneSpan Sign's hosts (providers.md B1); the API root is the host + "/api". A Settings may name
// any other http(s) URL, e.g. a fake's. The Australian and EU sandboxes are not known.
const (
	SandboxUS2BaseURL    = "https://sandbox.esignlive.com"
	ProductionUS2BaseURL = "https://apps.esignlive.com"
	SandboxUS1BaseURL    = "https://sandbox.e-signlive.com"
	ProductionUS1BaseURL = "https://apps.e-signlive.com"
	SandboxCABaseURL     = "https://sandbox.e-signlive.ca"
	ProductionCABaseURL  = "https://apps.e-signlive.ca"
	ProductionAUBaseURL  = "https://apps.esignlive.com.au"
	ProductionEUBaseURL  = "https://apps.esignlive.eu"
	// The US Gov hosts come from third-party code only (providers.md B1, UNCONFIRMED).
	SandboxUSGovBaseURL    = "https://signer-sandbox-gov.esignlive.com"
	ProductionUSGovBaseURL = "https://signer-gov.esignlive.com"

	// DefaultBaseURL is used when Settings.BaseURL is empty.
	DefaultBaseURL = SandboxUS2BaseURL
)

// maxKeyLength bounds an API key or a callback key; real API keys are about 100 characters.
const maxKeyLength = 1024

// Settings are what an administrator configures for one OneSpan Sign account.
type Settings struct {
	// BaseURL is the host's URL, e.g. SandboxUS2BaseURL (the default when empty). A trailing
	// "/api" is tolerated and dropped.
	BaseURL string
	// APIKey is the account's API key, sent as is in "Authorization: Basic {APIKey}".
	APIKey string
	// CallbackKeys are the keys a callback may carry ("Authorization: Basic {key}"): the one
	// registered at OneSpan, and during a rotation the previous one as well.
	CallbackKeys []string
}

// Validate reports every problem of the settings at once, as an *engine.ValidationError.
func (s Settings) Validate() error {
	var ps engine.Problems
	if s.BaseURL != "" {
		if _, err := parseBaseURL(s.BaseURL); err != nil {
			ps.Add("base_url", "%v", err)
		}
	}
	if s.APIKey == "" {
		ps.Add("api_key", "is required")
	} else if err := checkKey(s.APIKey); err != nil {
		ps.Add("api_key", "%v", err)
	}
	for i, k := range s.CallbackKeys {
		path := fmt.Sprintf("callback_keys[%d]", i)
		if k == "" {
			ps.Add(path, "must not be empty")
		} else if err := checkKey(k); err != nil {
			ps.Add(path, "%v", err)
		}
	}
	return ps.Err()
}

// checkKey accepts what can travel in an Authorization header and be compared there exactly:
// printable text without surrounding spaces. Its errors never quote the key.
func checkKey(k string) error {
	if len(k) > maxKeyLength {
		return fmt.Errorf("is longer than %d characters", maxKeyLength)
	}
	if strings.TrimSpace(k) != k {
		return errors.New("must not start or end with spaces")
	}
	for _, r := range k {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return errors.New("must be printable ASCII text")
		}
	}
	return nil
}

// String, GoString and LogValue keep the API key and the callback keys out of logs and
// formatted errors: a Settings printed by accident shows only that they are set.
func (s Settings) String() string {
	return fmt.Sprintf("onespan.Settings{BaseURL:%q APIKey:%s CallbackKeys:%d}",
		s.BaseURL, redacted(s.APIKey != ""), len(s.CallbackKeys))
}

func (s Settings) GoString() string { return s.String() }

func (s Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", s.BaseURL),
		slog.String("api_key", redacted(s.APIKey != "")),
		slog.Int("callback_keys", len(s.CallbackKeys)),
	)
}

func redacted(set bool) string {
	if set {
		return "[redacted]"
	}
	return "[unset]"
}

// parseBaseURL accepts an absolute http(s) URL without user info, query or fragment; a path is
// kept as a prefix (a fake mounted below a path), less a trailing "/api".
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("is not a URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, errors.New("must be an http(s) URL such as " + DefaultBaseURL)
	}
	if u.Hostname() == "" {
		return nil, errors.New("has no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, errors.New("must not carry user info, a query or a fragment")
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/api")
	u.RawPath = ""
	return u, nil
}
