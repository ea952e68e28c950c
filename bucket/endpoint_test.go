package bucket

import (
	"strings"
	"testing"
)

func TestResolveEndpoint(t *testing.T) {
	cases := []struct {
		name     string
		flag     string
		insecure bool
		envS3    string
		envAny   string
		want     string
		errHas   []string // all must appear in the error; nil means no error
	}{
		{name: "nothing", want: ""},
		{name: "https kept", flag: "https://s3.example.com", want: "https://s3.example.com"},
		{name: "trailing slash trimmed", flag: "https://s3.example.com:9000/", want: "https://s3.example.com:9000"},
		{name: "bare host gets https", flag: "minio.local:9000", want: "https://minio.local:9000"},
		{name: "bare IP gets https", flag: "10.0.0.1", want: "https://10.0.0.1"},
		{
			name: "http refused", flag: "http://minio.local:9000",
			errHas: []string{"plain HTTP", "--insecure-http", "--endpoint"},
		},
		{
			name: "http refused even with upper-case scheme", flag: "HTTP://minio.local:9000",
			errHas: []string{"plain HTTP", "--insecure-http"},
		},
		{name: "http allowed when insecure", flag: "http://minio.local:9000/", insecure: true, want: "http://minio.local:9000"},
		{name: "https when insecure", flag: "https://h", insecure: true, want: "https://h"},
		{name: "ftp refused", flag: "ftp://files.example.com", errHas: []string{"ftp", "want https"}},
		{name: "ftp refused when insecure", flag: "ftp://files.example.com", insecure: true, errHas: []string{"ftp"}},
		{name: "no host", flag: "https://", errHas: []string{"not a URL"}},
		{name: "env S3", envS3: "https://s3env.example.com/", want: "https://s3env.example.com"},
		{name: "env generic", envAny: "anyenv.example.com", want: "https://anyenv.example.com"},
		{
			name: "env S3 preferred", envS3: "https://s3env.example.com", envAny: "https://anyenv.example.com",
			want: "https://s3env.example.com",
		},
		{
			name: "flag preferred over env", flag: "https://flag.example.com",
			envS3: "https://s3env.example.com", envAny: "https://anyenv.example.com",
			want: "https://flag.example.com",
		},
		{
			name: "http from env refused, naming the variable", envS3: "http://s3env.example.com",
			errHas: []string{"plain HTTP", "AWS_ENDPOINT_URL_S3"},
		},
		{
			name: "http from generic env refused", envAny: "http://anyenv.example.com",
			errHas: []string{"plain HTTP", "AWS_ENDPOINT_URL"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_S3", tc.envS3)
			t.Setenv("AWS_ENDPOINT_URL", tc.envAny)
			got, err := resolveEndpoint(tc.flag, tc.insecure)
			if tc.errHas != nil {
				if err == nil {
					t.Fatalf("resolveEndpoint(%q, %v) = %q, want an error", tc.flag, tc.insecure, got)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if got != "" {
					t.Errorf("endpoint %q returned with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolveEndpoint(%q, %v): %v", tc.flag, tc.insecure, err)
			}
			if got != tc.want {
				t.Errorf("resolveEndpoint(%q, %v) = %q, want %q", tc.flag, tc.insecure, got, tc.want)
			}
		})
	}
}
