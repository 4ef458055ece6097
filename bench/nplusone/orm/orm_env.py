"""bench/nplusone/orm/orm_env.py -- what the Python ORM workloads share: the
libpq environment, Django's set-up and SQLAlchemy's models of the corpus
schema n1c (bench/nplusone/workloads.py)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = dict(host=os.environ.get("PGHOST", "localhost"), port=os.environ.get("PGPORT", "5432"),
           user=os.environ.get("PGUSER", ""), password=os.environ.get("PGPASSWORD", ""),
           dbname=os.environ.get("PGDATABASE", ""))
SEARCH_PATH = "-c search_path=n1c"


def django_setup():
    """Configure Django on the corpus database (models in django_n1)."""
    import django as dj
    from django.conf import settings

    sys.path.insert(0, HERE)
    settings.configure(
        INSTALLED_APPS=["django_n1"], USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql", "NAME": ENV["dbname"],
            "USER": ENV["user"], "PASSWORD": ENV["password"], "HOST": ENV["host"],
            "PORT": ENV["port"], "OPTIONS": {"options": SEARCH_PATH}}})
    dj.setup()


def sqlalchemy_models():
    """SQLAlchemy's declarative models: (Author, Post, Comment, Audit)."""
    from sqlalchemy import BigInteger, Column, ForeignKey, Integer, Text
    from sqlalchemy.orm import declarative_base, relationship

    Base = declarative_base()

    class Author(Base):
        __tablename__ = "authors"
        id = Column(Integer, primary_key=True)
        name = Column(Text)
        country = Column(Text)

    class Post(Base):
        __tablename__ = "posts"
        id = Column(Integer, primary_key=True)
        author_id = Column(Integer, ForeignKey("authors.id"))
        category_id = Column(Integer)
        title = Column(Text)
        author = relationship(Author)
        comments = relationship("Comment", order_by="Comment.id")

    class Comment(Base):
        __tablename__ = "comments"
        id = Column(Integer, primary_key=True)
        post_id = Column(Integer, ForeignKey("posts.id"))
        author_id = Column(Integer, ForeignKey("authors.id"))
        body = Column(Text)
        author = relationship(Author)

    class Audit(Base):
        __tablename__ = "audit"
        id = Column(BigInteger, primary_key=True)
        post_id = Column(Integer)
        note = Column(Text)

    return Author, Post, Comment, Audit


def sqlalchemy_url():
    return "postgresql+psycopg2://{user}:{password}@{host}:{port}/{dbname}".format(**ENV)
